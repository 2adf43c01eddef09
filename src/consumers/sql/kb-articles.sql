-- The tenant's knowledge-base articles that share words with the ticket, best first, with the start
-- of the body as an excerpt. Terms are OR-ed as in similar-tickets.sql.
-- $1 tenant_id, $2 query text (subject and description, already truncated), $3 limit, $4 excerpt length (characters)
WITH q AS (SELECT replace(plainto_tsquery('english', $2)::text, ' & ', ' | ')::tsquery AS query)
SELECT a.article_id, a.title, left(a.body, $4) AS excerpt, ts_rank(a.search, q.query) AS rank
  FROM kb_articles a, q
 WHERE a.tenant_id = $1
   AND a.search @@ q.query
 ORDER BY rank DESC, a.article_id
 LIMIT $3
