-- Deletes one of a tenant's assets; returns its id when it existed.
-- $1 tenant_id, $2 asset id
DELETE FROM assets WHERE tenant_id = $1 AND asset_id = $2 RETURNING asset_id
