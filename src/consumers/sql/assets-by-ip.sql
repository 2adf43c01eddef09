-- For each IP address, the tenant's assets whose network contains it, most specific network first
-- (a host's /32 before its site's /24); an address no asset covers comes back once with NULLs.
-- Rows keep the order of the input array.
-- $1 tenant_id, $2 IP addresses (text[], each already validated), $3 assets per address at most
SELECT host(ip.address) AS ip, a.hostname, a.site, a.kind, a.network::text AS network
  FROM unnest($2::inet[]) WITH ORDINALITY AS ip(address, position)
  LEFT JOIN LATERAL (
        SELECT hostname, site, kind, network
          FROM assets
         WHERE tenant_id = $1
           AND network >>= ip.address
         ORDER BY masklen(network) DESC, asset_id
         LIMIT $3
       ) a ON true
 ORDER BY ip.position, masklen(a.network) DESC NULLS LAST
