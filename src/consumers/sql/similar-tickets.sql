-- Past tickets of the same tenant that share words with this one, best first, among the tenant's
-- most recent tickets: the cost stays bounded by that window instead of growing with the tenant's
-- whole history on every ticket (common words make almost every past ticket a match). The query
-- text's terms are OR-ed (plainto_tsquery would AND them, and a long description would then match
-- nothing).
-- $1 tenant_id, $2 query text (subject and description, already truncated), $3 this ticket's id (never returned),
-- $4 limit, $5 how many of the most recent tickets are searched
WITH q AS (SELECT replace(plainto_tsquery('english', $2)::text, ' & ', ' | ')::tsquery AS query),
recent AS (
  SELECT t.ticket_id, t.subject, t.status, t.search
    FROM tickets t
   WHERE t.tenant_id = $1
   ORDER BY t.received_at DESC
   LIMIT $5
)
SELECT r.ticket_id, r.subject, r.status, ts_rank(r.search, q.query) AS rank
  FROM recent r, q
 WHERE r.ticket_id <> $3
   AND r.search @@ q.query
 ORDER BY rank DESC, r.ticket_id
 LIMIT $4
