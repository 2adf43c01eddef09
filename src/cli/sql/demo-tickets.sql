-- The projected state of the given tickets of one tenant, for the demo's progress and its table.
-- $1 tenant_id, $2 ticket ids (text[])
SELECT ticket_id, status, subject, enhancement, writeback, failure,
       (extract(epoch FROM written_back_at - received_at) * 1000)::int AS pipeline_ms
  FROM tickets
 WHERE tenant_id = $1 AND ticket_id = ANY($2::text[])
