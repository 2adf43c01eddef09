-- The follow-on events live processing emitted for some input events (replayed ones excluded),
-- oldest first: what a stage replay's dry run compares its new output with.
-- $1 tenant_id, $2 input event ids (text[])
SELECT causation_id, type, data
  FROM events
 WHERE tenant_id = $1
   AND causation_id = ANY($2)
   AND replay_id IS NULL
 ORDER BY stream_position(stream_id)
