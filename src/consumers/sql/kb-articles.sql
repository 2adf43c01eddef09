-- For each ticket of a batch (one tenant), the tenant's knowledge-base articles that share words
-- with it, best first, with the start of the body as an excerpt. Terms are OR-ed as in
-- similar-tickets.sql.
-- $1 tenant_id, $2 query texts (subject and description, already truncated), $3 limit per ticket,
-- $4 excerpt length (characters)
-- Rows come grouped by position (1-based, in the order of $2), best first.
WITH input AS MATERIALIZED (
  SELECT u.position, replace(plainto_tsquery('english', u.text)::text, ' & ', ' | ')::tsquery AS query
    FROM unnest($2::text[]) WITH ORDINALITY AS u (text, position)
)
SELECT i.position::int AS position, a.article_id, a.title, a.excerpt, a.rank
  FROM input i
 CROSS JOIN LATERAL (
        SELECT k.article_id, k.title, left(k.body, $4) AS excerpt, ts_rank(k.search, i.query) AS rank
          FROM kb_articles k
         WHERE k.tenant_id = $1
           AND k.search @@ i.query
         ORDER BY rank DESC, k.article_id
         LIMIT $3
       ) a
 ORDER BY i.position, a.rank DESC, a.article_id
