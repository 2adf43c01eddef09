-- Applies ticket.received events (created or updated) to tickets, one row per event, at most one
-- event per ticket per statement. Older events never overwrite newer state, and an event id
-- already applied to the ticket changes nothing.
-- $1..$11 parallel arrays: tenant_id, ticket_id, event id, stream id, occurred at, subject,
-- description, priority, category, requester (jsonb), created at (from the helpdesk)
INSERT INTO tickets AS t (tenant_id, ticket_id, status, subject, description, priority, category, requester,
                          created_at, received_at, updated_at, last_event_id, last_stream_id, version, event_ids)
SELECT e.tenant_id, e.ticket_id, 'received', e.subject, e.description, e.priority, e.category, e.requester,
       e.created_at, e.occurred_at, e.occurred_at, e.event_id, e.stream_id, 1, ARRAY[e.event_id]
  FROM unnest($1::text[], $2::text[], $3::uuid[], $4::text[], $5::timestamptz[], $6::text[], $7::text[],
              $8::text[], $9::text[], $10::jsonb[], $11::timestamptz[])
       AS e (tenant_id, ticket_id, event_id, stream_id, occurred_at, subject, description, priority, category, requester, created_at)
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
