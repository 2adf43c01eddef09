-- How far the archive has stored a tenant's stream: retention never trims past it.
-- $1 tenant_id, $2 the archive projection's name
SELECT stream_id FROM projection_checkpoints WHERE projection = $2 AND tenant_id = $1
