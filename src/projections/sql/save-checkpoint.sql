-- Moves a projection's checkpoint forward (never back).
-- $1 projection, $2 tenant_id, $3 last applied stream id
INSERT INTO projection_checkpoints AS c (projection, tenant_id, stream_id, updated_at)
VALUES ($1, $2, $3, now())
ON CONFLICT (projection, tenant_id) DO UPDATE SET stream_id = EXCLUDED.stream_id, updated_at = now()
WHERE stream_position(c.stream_id) < stream_position(EXCLUDED.stream_id)
