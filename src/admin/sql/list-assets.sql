-- One page of a tenant's assets by id, optionally those whose id, hostname, network, site or kind
-- contains the text (case-insensitive), with the number of all matches.
-- $1 tenant_id, $2 LIKE pattern (wildcards of the user's text already escaped; NULL: all), $3 limit, $4 offset
SELECT asset_id, hostname, network::text AS network, site, kind, updated_at, count(*) OVER ()::int AS total
  FROM assets
 WHERE tenant_id = $1
   AND ($2::text IS NULL OR asset_id ILIKE $2 OR hostname ILIKE $2 OR network::text ILIKE $2 OR site ILIKE $2 OR kind ILIKE $2)
 ORDER BY asset_id
 LIMIT $3 OFFSET $4
