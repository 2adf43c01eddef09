-- One page of a tenant's archived events in stream order, with the fields a stream entry carries:
-- what replay reads of history the lanes no longer hold.
-- $1 tenant_id, $2 read after this stream id (exclusive; null: from the start), $3 stop before this
-- stream id (exclusive; null: no bound), $4 stop at this stream id (inclusive; null: no bound), $5 page size
SELECT stream_id, event_id, type, version, tenant_id, ticket_id, causation_id, correlation_id, traceparent, replay_id, data,
       (extract(epoch FROM occurred_at) * 1000)::bigint::text AS occurred_ms
  FROM events
 WHERE tenant_id = $1
   AND ($2::text IS NULL OR stream_position(stream_id) > stream_position($2))
   AND ($3::text IS NULL OR stream_position(stream_id) < stream_position($3))
   AND ($4::text IS NULL OR stream_position(stream_id) <= stream_position($4))
 ORDER BY stream_position(stream_id)
 LIMIT $5
