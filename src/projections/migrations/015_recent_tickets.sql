-- The tenant's most recent tickets, newest first, read through tickets_recent (tenant_id,
-- received_at DESC) and nothing else: the similar-ticket search ranks only these. Without planner
-- statistics (autovacuum off, right after a bulk import or a rebuild) the planner guesses a tenant
-- has a few hundred rows and, as an ORDER BY … LIMIT in the query itself, reads every row of the
-- tenant through tickets_status or a bitmap scan and sorts them. With sorting disabled inside this
-- function, the one plan that needs no sort, the ordered index scan that stops after `how_many`
-- rows, is the plan; the setting applies to this function's own statement only.
CREATE FUNCTION recent_tickets(tenant text, how_many integer)
  RETURNS TABLE (ticket_id text, subject text, status text, search tsvector)
  LANGUAGE sql STABLE PARALLEL SAFE
  SET enable_sort = off
  AS $$
    SELECT t.ticket_id, t.subject, t.status, t.search
      FROM tickets t
     WHERE t.tenant_id = tenant
     ORDER BY t.received_at DESC
     LIMIT how_many
  $$;
