-- One page of a tenant's knowledge-base articles by id, optionally those whose id or title contains
-- the text (case-insensitive), with the number of all matches.
-- $1 tenant_id, $2 LIKE pattern (wildcards of the user's text already escaped; NULL: all), $3 limit, $4 offset
SELECT article_id, title, body, updated_at, count(*) OVER ()::int AS total
  FROM kb_articles
 WHERE tenant_id = $1
   AND ($2::text IS NULL OR article_id ILIKE $2 OR title ILIKE $2 OR body ILIKE $2)
 ORDER BY article_id
 LIMIT $3 OFFSET $4
