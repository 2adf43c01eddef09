-- For each IP address of a batch's tickets (one tenant), the tenant's assets whose network contains
-- it, most specific network first (a host's /32 before its site's /24); an address no asset covers
-- comes back once with NULLs. Rows keep the order of the input arrays.
-- $1 tenant_id, $2 the ticket position (1-based) each address belongs to, $3 IP addresses (text[],
-- each already validated), $4 assets per address at most
SELECT ip.ticket AS position, host(ip.address) AS ip, a.hostname, a.site, a.kind, a.network::text AS network
  FROM unnest($2::int[], $3::inet[]) WITH ORDINALITY AS ip (ticket, address, position)
  LEFT JOIN LATERAL (
        SELECT hostname, site, kind, network
          FROM assets
         WHERE tenant_id = $1
           AND network >>= ip.address
         ORDER BY masklen(network) DESC, asset_id
         LIMIT $4
       ) a ON true
 ORDER BY ip.position, masklen(a.network) DESC NULLS LAST
