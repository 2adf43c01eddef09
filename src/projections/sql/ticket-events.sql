-- A ticket's archived events in stream order, always scoped to its tenant.
-- $1 tenant_id, $2 ticket_id
SELECT stream_id, event_id, type, version, causation_id, correlation_id, traceparent, replay_id, data, occurred_at,
       recorded_at
  FROM events
 WHERE tenant_id = $1 AND ticket_id = $2
 ORDER BY stream_position(stream_id)
