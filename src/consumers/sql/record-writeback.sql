-- Records a write-back after the helpdesk accepted it. A concurrent delivery of the same
-- enhancement that got here first wins: nothing is returned then, and the caller reads its row.
-- $1 tenant_id, $2 ticket_id, $3 enhancement event id, $4 target, $5 note id, $6 HTTP status
INSERT INTO writebacks (tenant_id, ticket_id, enhancement_id, target, note_id, status)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (tenant_id, ticket_id, enhancement_id) DO NOTHING
RETURNING target, note_id, status
