-- Inserts or replaces a tenant's assets by id (an import or an edit). Ids are unique within one call.
-- $1 tenant_id, then parallel text arrays of equal length: $2 asset ids, $3 hostnames, $4 networks
-- (already checked as CIDR), $5 sites, $6 kinds (NULL elements: none)
-- Returns one row per asset, inserted true for a new id.
INSERT INTO assets AS a (tenant_id, asset_id, hostname, network, site, kind, updated_at)
SELECT $1, r.asset_id, r.hostname, r.network::cidr, r.site, r.kind, now()
  FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[]) AS r(asset_id, hostname, network, site, kind)
ON CONFLICT (tenant_id, asset_id) DO UPDATE SET
  hostname = EXCLUDED.hostname, network = EXCLUDED.network, site = EXCLUDED.site, kind = EXCLUDED.kind, updated_at = now()
RETURNING (a.xmax = 0) AS inserted
