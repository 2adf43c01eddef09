-- Past tickets of the same tenant that share words with this one, best first. The query text's
-- terms are OR-ed (plainto_tsquery would AND them, and a long description would then match nothing).
-- $1 tenant_id, $2 query text (subject and description, already truncated), $3 this ticket's id (never returned),
-- $4 limit
WITH q AS (SELECT replace(plainto_tsquery('english', $2)::text, ' & ', ' | ')::tsquery AS query)
SELECT t.ticket_id, t.subject, t.status, ts_rank(t.search, q.query) AS rank
  FROM tickets t, q
 WHERE t.tenant_id = $1
   AND t.ticket_id <> $3
   AND t.search @@ q.query
 ORDER BY rank DESC, t.ticket_id
 LIMIT $4
