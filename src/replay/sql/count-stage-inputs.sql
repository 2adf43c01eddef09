-- How many archived events in a stream range a stage would re-run (replayed ones excluded): the
-- total a stage replay reports progress against.
-- $1 tenant_id, $2 event types (text[]), $3 first stream id (inclusive), $4 last stream id (inclusive)
SELECT count(*)::int AS n
  FROM events
 WHERE tenant_id = $1
   AND type = ANY($2)
   AND replay_id IS NULL
   AND stream_position(stream_id) >= stream_position($3)
   AND stream_position(stream_id) <= stream_position($4)
