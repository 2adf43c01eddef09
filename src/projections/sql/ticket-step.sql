-- Applies pipeline steps (context_gathered, enhanced, written_back, failed) to tickets: each step's
-- status, its result column and its timestamp; at most one event per ticket per statement. Older
-- events never overwrite newer state, and an event id already applied to the ticket changes nothing.
-- $1..$7 parallel arrays: tenant_id, ticket_id, event id, stream id, occurred at, status, result (jsonb)
-- Returns, for each row written back by this statement, the ticket and its received → written back
-- time in ms; no row for an event that changed nothing (older, or already applied).
INSERT INTO tickets AS t (tenant_id, ticket_id, status, context, enhancement, writeback, failure,
                          context_gathered_at, enhanced_at, written_back_at, failed_at,
                          updated_at, last_event_id, last_stream_id, version, event_ids)
SELECT e.tenant_id, e.ticket_id, e.status,
       CASE WHEN e.status = 'context_gathered' THEN e.result END,
       CASE WHEN e.status = 'enhanced' THEN e.result END,
       CASE WHEN e.status = 'written_back' THEN e.result END,
       CASE WHEN e.status = 'failed' THEN e.result END,
       CASE WHEN e.status = 'context_gathered' THEN e.occurred_at END,
       CASE WHEN e.status = 'enhanced' THEN e.occurred_at END,
       CASE WHEN e.status = 'written_back' THEN e.occurred_at END,
       CASE WHEN e.status = 'failed' THEN e.occurred_at END,
       e.occurred_at, e.event_id, e.stream_id, 1, ARRAY[e.event_id]
  FROM unnest($1::text[], $2::text[], $3::uuid[], $4::text[], $5::timestamptz[], $6::text[], $7::jsonb[])
       AS e (tenant_id, ticket_id, event_id, stream_id, occurred_at, status, result)
ON CONFLICT (tenant_id, ticket_id) DO UPDATE SET
  status = EXCLUDED.status,
  context = COALESCE(EXCLUDED.context, t.context),
  enhancement = COALESCE(EXCLUDED.enhancement, t.enhancement),
  writeback = COALESCE(EXCLUDED.writeback, t.writeback),
  failure = COALESCE(EXCLUDED.failure, t.failure),
  context_gathered_at = COALESCE(EXCLUDED.context_gathered_at, t.context_gathered_at),
  enhanced_at = COALESCE(EXCLUDED.enhanced_at, t.enhanced_at),
  written_back_at = COALESCE(EXCLUDED.written_back_at, t.written_back_at),
  failed_at = COALESCE(EXCLUDED.failed_at, t.failed_at),
  updated_at = EXCLUDED.updated_at,
  last_event_id = EXCLUDED.last_event_id,
  last_stream_id = EXCLUDED.last_stream_id,
  version = t.version + 1,
  event_ids = t.event_ids || EXCLUDED.last_event_id
WHERE stream_position(t.last_stream_id) < stream_position(EXCLUDED.last_stream_id)
  AND NOT EXCLUDED.last_event_id = ANY (t.event_ids)
RETURNING t.ticket_id, t.status, (extract(epoch FROM t.written_back_at - t.received_at) * 1000)::float8 AS written_back_after_ms
