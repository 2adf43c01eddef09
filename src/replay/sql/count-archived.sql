-- How many archived events of a tenant lie in a stream range: the archive's part of a replay's total.
-- $1 tenant_id, $2 after this stream id (exclusive; null: from the start), $3 before this stream id
-- (exclusive; null: no bound)
SELECT count(*)::int AS n
  FROM events
 WHERE tenant_id = $1
   AND ($2::text IS NULL OR stream_position(stream_id) > stream_position($2))
   AND ($3::text IS NULL OR stream_position(stream_id) < stream_position($3))
