-- Adds the demo tenant's assets; an asset id that exists already is left as it is, so the demo can run again.
-- $1 tenant_id, then parallel text arrays of equal length: $2 asset ids, $3 hostnames, $4 networks (CIDR),
-- $5 sites, $6 kinds
INSERT INTO assets (tenant_id, asset_id, hostname, network, site, kind)
SELECT $1, a.asset_id, a.hostname, a.network::cidr, a.site, a.kind
  FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[]) AS a(asset_id, hostname, network, site, kind)
ON CONFLICT (tenant_id, asset_id) DO NOTHING
