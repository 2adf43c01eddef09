-- Applies ticket.received (created or updated) to tickets. Older events never overwrite newer
-- state, and an event id already applied to the ticket changes nothing.
-- $1 tenant_id, $2 ticket_id, $3 event id, $4 stream id, $5 occurred at, $6 subject, $7 description,
-- $8 priority, $9 category, $10 requester (jsonb), $11 created at (from the helpdesk)
INSERT INTO tickets AS t (tenant_id, ticket_id, status, subject, description, priority, category, requester,
                          created_at, received_at, updated_at, last_event_id, last_stream_id, version, event_ids)
VALUES ($1, $2, 'received', $6, $7, $8, $9, $10, $11, $5, $5, $3, $4, 1, ARRAY[$3::uuid])
ON CONFLICT (tenant_id, ticket_id) DO UPDATE SET
  status = 'received',
  subject = EXCLUDED.subject,
  description = EXCLUDED.description,
  priority = COALESCE(EXCLUDED.priority, t.priority),
  category = COALESCE(EXCLUDED.category, t.category),
  requester = COALESCE(EXCLUDED.requester, t.requester),
  created_at = COALESCE(t.created_at, EXCLUDED.created_at),
  received_at = EXCLUDED.received_at,
  updated_at = EXCLUDED.updated_at,
  last_event_id = EXCLUDED.last_event_id,
  last_stream_id = EXCLUDED.last_stream_id,
  version = t.version + 1,
  event_ids = t.event_ids || EXCLUDED.last_event_id
WHERE stream_position(t.last_stream_id) < stream_position(EXCLUDED.last_stream_id)
  AND NOT EXCLUDED.last_event_id = ANY (t.event_ids)
