-- Applies pipeline steps (context_gathered, enhanced, written_back, failed) to tickets, at most one
-- event per ticket per statement, in any order: a step fills its result column and its timestamp
-- unless a newer event of the same step (by stream position) already did. A failure shows only
-- while no step succeeded after it: a newer success clears it, an older failure never shows. Only
-- the newest event of the row decides status, last_event_id, last_stream_id and updated_at. An
-- event id already applied to the ticket changes nothing.
-- $1..$7 parallel arrays: tenant_id, ticket_id, event id, stream id, occurred at, status, result (jsonb)
-- Returns one row per event applied (none for an event already applied): the ticket, its status
-- after it, and its received → written back time in ms (NULL until both are known).
INSERT INTO tickets AS t (tenant_id, ticket_id, status, context, enhancement, writeback, failure,
                          context_gathered_at, enhanced_at, written_back_at, failed_at,
                          updated_at, last_event_id, last_stream_id, version, event_ids,
                          context_position, enhancement_position, writeback_position, failure_position)
SELECT e.tenant_id, e.ticket_id, e.status,
       CASE WHEN e.status = 'context_gathered' THEN e.result END,
       CASE WHEN e.status = 'enhanced' THEN e.result END,
       CASE WHEN e.status = 'written_back' THEN e.result END,
       CASE WHEN e.status = 'failed' THEN e.result END,
       CASE WHEN e.status = 'context_gathered' THEN e.occurred_at END,
       CASE WHEN e.status = 'enhanced' THEN e.occurred_at END,
       CASE WHEN e.status = 'written_back' THEN e.occurred_at END,
       CASE WHEN e.status = 'failed' THEN e.occurred_at END,
       e.occurred_at, e.event_id, e.stream_id, 1, ARRAY[e.event_id],
       CASE WHEN e.status = 'context_gathered' THEN e.position END,
       CASE WHEN e.status = 'enhanced' THEN e.position END,
       CASE WHEN e.status = 'written_back' THEN e.position END,
       CASE WHEN e.status = 'failed' THEN e.position END
  FROM (SELECT u.*, stream_position(u.stream_id) AS position
          FROM unnest($1::text[], $2::text[], $3::uuid[], $4::text[], $5::timestamptz[], $6::text[], $7::jsonb[])
               AS u (tenant_id, ticket_id, event_id, stream_id, occurred_at, status, result)) AS e
ON CONFLICT (tenant_id, ticket_id) DO UPDATE SET
  context = CASE WHEN position_newer(EXCLUDED.context_position, t.context_position) THEN EXCLUDED.context ELSE t.context END,
  context_gathered_at = CASE WHEN position_newer(EXCLUDED.context_position, t.context_position) THEN EXCLUDED.context_gathered_at ELSE t.context_gathered_at END,
  context_position = GREATEST(t.context_position, EXCLUDED.context_position),
  enhancement = CASE WHEN position_newer(EXCLUDED.enhancement_position, t.enhancement_position) THEN EXCLUDED.enhancement ELSE t.enhancement END,
  enhanced_at = CASE WHEN position_newer(EXCLUDED.enhancement_position, t.enhancement_position) THEN EXCLUDED.enhanced_at ELSE t.enhanced_at END,
  enhancement_position = GREATEST(t.enhancement_position, EXCLUDED.enhancement_position),
  writeback = CASE WHEN position_newer(EXCLUDED.writeback_position, t.writeback_position) THEN EXCLUDED.writeback ELSE t.writeback END,
  written_back_at = CASE WHEN position_newer(EXCLUDED.writeback_position, t.writeback_position) THEN EXCLUDED.written_back_at ELSE t.written_back_at END,
  writeback_position = GREATEST(t.writeback_position, EXCLUDED.writeback_position),
  -- A new failure shows if it is newer than every failure and success so far; the old one stays
  -- unless this event is a success after it.
  failure = CASE
    WHEN position_newer(EXCLUDED.failure_position, GREATEST(t.failure_position, t.context_position, t.enhancement_position, t.writeback_position)) THEN EXCLUDED.failure
    WHEN position_newer(t.failure_position, GREATEST(EXCLUDED.context_position, EXCLUDED.enhancement_position, EXCLUDED.writeback_position)) THEN t.failure END,
  failed_at = CASE
    WHEN position_newer(EXCLUDED.failure_position, GREATEST(t.failure_position, t.context_position, t.enhancement_position, t.writeback_position)) THEN EXCLUDED.failed_at
    WHEN position_newer(t.failure_position, GREATEST(EXCLUDED.context_position, EXCLUDED.enhancement_position, EXCLUDED.writeback_position)) THEN t.failed_at END,
  failure_position = CASE
    WHEN position_newer(EXCLUDED.failure_position, GREATEST(t.failure_position, t.context_position, t.enhancement_position, t.writeback_position)) THEN EXCLUDED.failure_position
    WHEN position_newer(t.failure_position, GREATEST(EXCLUDED.context_position, EXCLUDED.enhancement_position, EXCLUDED.writeback_position)) THEN t.failure_position END,
  status = CASE WHEN position_newer(stream_position(EXCLUDED.last_stream_id), stream_position(t.last_stream_id)) THEN EXCLUDED.status ELSE t.status END,
  updated_at = CASE WHEN position_newer(stream_position(EXCLUDED.last_stream_id), stream_position(t.last_stream_id)) THEN EXCLUDED.updated_at ELSE t.updated_at END,
  last_event_id = CASE WHEN position_newer(stream_position(EXCLUDED.last_stream_id), stream_position(t.last_stream_id)) THEN EXCLUDED.last_event_id ELSE t.last_event_id END,
  last_stream_id = CASE WHEN position_newer(stream_position(EXCLUDED.last_stream_id), stream_position(t.last_stream_id)) THEN EXCLUDED.last_stream_id ELSE t.last_stream_id END,
  version = t.version + 1,
  event_ids = ARRAY(SELECT id FROM unnest(t.event_ids || EXCLUDED.last_event_id) AS id ORDER BY id)
WHERE NOT EXCLUDED.last_event_id = ANY (t.event_ids)
RETURNING t.ticket_id, t.status, (extract(epoch FROM t.written_back_at - t.received_at) * 1000)::float8 AS written_back_after_ms
