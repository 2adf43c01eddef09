-- tickets.search was a generated column: Postgres recomputed it (to_tsvector over the whole
-- description) on every update of the row, once per pipeline step. A trigger now computes it only
-- when a row is inserted or its subject or description change.
ALTER TABLE tickets DROP COLUMN search;
ALTER TABLE tickets ADD COLUMN search tsvector;

CREATE FUNCTION tickets_search_vector() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.search := setweight(to_tsvector('english', coalesce(NEW.subject, '')), 'A')
             || setweight(to_tsvector('english', coalesce(NEW.description, '')), 'B');
  RETURN NEW;
END
$$;

CREATE TRIGGER tickets_search BEFORE INSERT OR UPDATE OF subject, description ON tickets
  FOR EACH ROW EXECUTE FUNCTION tickets_search_vector();

UPDATE tickets SET subject = subject;
CREATE INDEX tickets_search ON tickets USING gin (search);
