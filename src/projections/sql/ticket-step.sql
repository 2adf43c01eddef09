-- Applies a pipeline step (context_gathered, enhanced, written_back, failed) to tickets: the step's
-- status, its result column and its timestamp. Older events never overwrite newer
-- state, and an event id already applied to the ticket changes nothing.
-- $1 tenant_id, $2 ticket_id, $3 event id, $4 stream id, $5 occurred at, $6 status, $7 result (jsonb)
-- Returns the ticket's received → written back time in ms (null until both are set); no row when
-- the event changed nothing (older, or already applied).
INSERT INTO tickets AS t (tenant_id, ticket_id, status, context, enhancement, writeback, failure,
                          context_gathered_at, enhanced_at, written_back_at, failed_at,
                          updated_at, last_event_id, last_stream_id, version, event_ids)
VALUES ($1, $2, $6::text,
        CASE WHEN $6::text = 'context_gathered' THEN $7::jsonb END,
        CASE WHEN $6::text = 'enhanced' THEN $7::jsonb END,
        CASE WHEN $6::text = 'written_back' THEN $7::jsonb END,
        CASE WHEN $6::text = 'failed' THEN $7::jsonb END,
        CASE WHEN $6::text = 'context_gathered' THEN $5::timestamptz END,
        CASE WHEN $6::text = 'enhanced' THEN $5::timestamptz END,
        CASE WHEN $6::text = 'written_back' THEN $5::timestamptz END,
        CASE WHEN $6::text = 'failed' THEN $5::timestamptz END,
        $5, $3, $4, 1, ARRAY[$3::uuid])
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
RETURNING (extract(epoch FROM t.written_back_at - t.received_at) * 1000)::float8 AS written_back_after_ms
