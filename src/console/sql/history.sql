-- The last hour of the pipeline, per minute, from the tickets' step times: tickets written back in
-- the minute with their received → written back latency (p50 and p95, ms), and tickets in flight at
-- the minute's end (received, neither written back nor failed yet).
-- $1 tenant ids (text[]), $2 now (timestamptz), $3 minutes
WITH minutes AS (
  SELECT minute
    FROM generate_series(date_trunc('minute', $2::timestamptz) - make_interval(mins => $3 - 1),
                         date_trunc('minute', $2::timestamptz), interval '1 minute') AS minute
), recent AS MATERIALIZED (
  SELECT received_at, written_back_at, failed_at
    FROM tickets
   WHERE tenant_id = ANY ($1::text[])
     AND received_at >= date_trunc('minute', $2::timestamptz) - make_interval(mins => $3) - interval '1 hour'
)
SELECT m.minute, done.written_back, done.p50_ms, done.p95_ms, flight.in_flight
  FROM minutes m
  CROSS JOIN LATERAL (
    SELECT count(*)::int AS written_back,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM r.written_back_at - r.received_at) * 1000) AS p50_ms,
           percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM r.written_back_at - r.received_at) * 1000) AS p95_ms
      FROM recent r
     WHERE r.written_back_at >= m.minute AND r.written_back_at < m.minute + interval '1 minute'
  ) done
  CROSS JOIN LATERAL (
    SELECT count(*)::int AS in_flight
      FROM recent r
     WHERE r.received_at < m.minute + interval '1 minute'
       AND coalesce(r.written_back_at, r.failed_at, 'infinity') >= m.minute + interval '1 minute'
  ) flight
 ORDER BY m.minute
