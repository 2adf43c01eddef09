-- The tickets projection now writes a ticket's folded events in one statement that names every
-- column, so the trigger's UPDATE OF subject, description fires on every update: recompute search
-- only when the subject or the description really changed.
CREATE OR REPLACE FUNCTION tickets_search_vector() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND NEW.subject IS NOT DISTINCT FROM OLD.subject
     AND NEW.description IS NOT DISTINCT FROM OLD.description THEN
    RETURN NEW;
  END IF;
  NEW.search := setweight(to_tsvector('english', coalesce(NEW.subject, '')), 'A')
             || setweight(to_tsvector('english', coalesce(NEW.description, '')), 'B');
  RETURN NEW;
END
$$;
