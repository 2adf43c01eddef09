-- Applies ticket.received events (created or updated) to tickets, at most one event per ticket per
-- statement, in any order: an event fills subject, description and received_at, and each of
-- priority, category and requester it carries, unless a newer event (by stream position) already
-- filled them; created_at keeps the earliest reported. Only the newest event of the row decides
-- status, last_event_id, last_stream_id and updated_at. An event id already applied changes nothing.
-- $1..$11 parallel arrays: tenant_id, ticket_id, event id, stream id, occurred at, subject,
-- description, priority, category, requester (jsonb), created at (from the helpdesk)
INSERT INTO tickets AS t (tenant_id, ticket_id, status, subject, description, priority, category, requester,
                          created_at, received_at, updated_at, last_event_id, last_stream_id, version, event_ids,
                          ticket_position, priority_position, category_position, requester_position)
SELECT e.tenant_id, e.ticket_id, 'received', e.subject, e.description, e.priority, e.category, e.requester,
       e.created_at, e.occurred_at, e.occurred_at, e.event_id, e.stream_id, 1, ARRAY[e.event_id],
       e.position,
       CASE WHEN e.priority IS NOT NULL THEN e.position END,
       CASE WHEN e.category IS NOT NULL THEN e.position END,
       CASE WHEN e.requester IS NOT NULL THEN e.position END
  FROM (SELECT u.*, stream_position(u.stream_id) AS position
          FROM unnest($1::text[], $2::text[], $3::uuid[], $4::text[], $5::timestamptz[], $6::text[], $7::text[],
                      $8::text[], $9::text[], $10::jsonb[], $11::timestamptz[])
               AS u (tenant_id, ticket_id, event_id, stream_id, occurred_at, subject, description, priority, category, requester, created_at)) AS e
ON CONFLICT (tenant_id, ticket_id) DO UPDATE SET
  subject = CASE WHEN position_newer(EXCLUDED.ticket_position, t.ticket_position) THEN EXCLUDED.subject ELSE t.subject END,
  description = CASE WHEN position_newer(EXCLUDED.ticket_position, t.ticket_position) THEN EXCLUDED.description ELSE t.description END,
  received_at = CASE WHEN position_newer(EXCLUDED.ticket_position, t.ticket_position) THEN EXCLUDED.received_at ELSE t.received_at END,
  ticket_position = GREATEST(t.ticket_position, EXCLUDED.ticket_position),
  priority = CASE WHEN position_newer(EXCLUDED.priority_position, t.priority_position) THEN EXCLUDED.priority ELSE t.priority END,
  priority_position = GREATEST(t.priority_position, EXCLUDED.priority_position),
  category = CASE WHEN position_newer(EXCLUDED.category_position, t.category_position) THEN EXCLUDED.category ELSE t.category END,
  category_position = GREATEST(t.category_position, EXCLUDED.category_position),
  requester = CASE WHEN position_newer(EXCLUDED.requester_position, t.requester_position) THEN EXCLUDED.requester ELSE t.requester END,
  requester_position = GREATEST(t.requester_position, EXCLUDED.requester_position),
  created_at = LEAST(t.created_at, EXCLUDED.created_at),
  status = CASE WHEN position_newer(EXCLUDED.ticket_position, stream_position(t.last_stream_id)) THEN EXCLUDED.status ELSE t.status END,
  updated_at = CASE WHEN position_newer(EXCLUDED.ticket_position, stream_position(t.last_stream_id)) THEN EXCLUDED.updated_at ELSE t.updated_at END,
  last_event_id = CASE WHEN position_newer(EXCLUDED.ticket_position, stream_position(t.last_stream_id)) THEN EXCLUDED.last_event_id ELSE t.last_event_id END,
  last_stream_id = CASE WHEN position_newer(EXCLUDED.ticket_position, stream_position(t.last_stream_id)) THEN EXCLUDED.last_stream_id ELSE t.last_stream_id END,
  version = t.version + 1,
  event_ids = ARRAY(SELECT id FROM unnest(t.event_ids || EXCLUDED.last_event_id) AS id ORDER BY id)
WHERE NOT EXCLUDED.last_event_id = ANY (t.event_ids)
