-- Records the write-backs of a batch after the helpdesk accepted them, in one statement and one
-- commit. An enhancement already recorded (a concurrent delivery that got here first) wins: no row
-- comes back for it, and the caller reads its row.
-- $1..$6 parallel arrays: tenant_id, ticket_id, enhancement event id, target, note id, HTTP status
INSERT INTO writebacks (tenant_id, ticket_id, enhancement_id, target, note_id, status)
SELECT * FROM unnest($1::text[], $2::text[], $3::uuid[], $4::text[], $5::text[], $6::int[])
ON CONFLICT (tenant_id, ticket_id, enhancement_id) DO NOTHING
RETURNING tenant_id, ticket_id, enhancement_id::text, target, note_id, status
