-- Archives a batch of events; an event already archived (same event id or stream position) is skipped.
-- $1..$12 parallel arrays: tenant_id, stream_id, event_id, type, version, ticket_id, causation_id,
-- correlation_id, traceparent, replay_id, data, occurred_at
INSERT INTO events (tenant_id, stream_id, event_id, type, version, ticket_id, causation_id, correlation_id,
                    traceparent, replay_id, data, occurred_at)
SELECT * FROM unnest($1::text[], $2::text[], $3::uuid[], $4::text[], $5::int[], $6::text[], $7::text[],
                     $8::text[], $9::text[], $10::text[], $11::jsonb[], $12::timestamptz[])
ON CONFLICT DO NOTHING
