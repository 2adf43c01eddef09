-- purge_tenant(tenant): deletes a tenant's rows from every table of the current schema that has a
-- tenant_id column (the archive, projections, checkpoints, write-backs, context sources, and any
-- table added later), and returns each table with the number of rows removed.
CREATE FUNCTION purge_tenant(purged_tenant text) RETURNS TABLE (purged_table text, removed_rows bigint)
  LANGUAGE plpgsql AS $$
DECLARE
  target record;
  removed bigint;
BEGIN
  FOR target IN
    SELECT c.table_name::text AS name
      FROM information_schema.columns c
      JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name AND t.table_type = 'BASE TABLE'
     WHERE c.table_schema = current_schema() AND c.column_name = 'tenant_id'
     ORDER BY c.table_name
  LOOP
    EXECUTE format('DELETE FROM %I.%I WHERE tenant_id = $1', current_schema(), target.name) USING purged_tenant;
    GET DIAGNOSTICS removed = ROW_COUNT;
    purged_table := target.name;
    removed_rows := removed;
    RETURN NEXT;
  END LOOP;
END
$$;
