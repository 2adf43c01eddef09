-- Deletes every row of one tenant, table by table (migration 010's purge_tenant); one row per table.
-- $1 tenant_id
SELECT purged_table, removed_rows FROM purge_tenant($1)
