-- One projected ticket, always scoped to its tenant.
-- $1 tenant_id, $2 ticket_id
SELECT tenant_id, ticket_id, status, subject, description, priority, category, requester, context, enhancement,
       writeback, failure, created_at, received_at, context_gathered_at, enhanced_at, written_back_at, failed_at,
       updated_at, last_event_id, last_stream_id, version
  FROM tickets
 WHERE tenant_id = $1 AND ticket_id = $2
