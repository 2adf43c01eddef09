-- Past tickets of the same tenant that share words with this one, best first. The query text's
-- terms are OR-ed (plainto_tsquery would AND them, and a long description would then match nothing).
-- Ranking is done over the most recent matching tickets only: ranking every match would cost time
-- in proportion to the tenant's whole history, on every ticket.
-- $1 tenant_id, $2 query text (subject and description, already truncated), $3 this ticket's id (never returned),
-- $4 limit, $5 how many recent matches are ranked
WITH q AS (SELECT replace(plainto_tsquery('english', $2)::text, ' & ', ' | ')::tsquery AS query),
recent AS (
  SELECT t.ticket_id, t.subject, t.status, t.search
    FROM tickets t, q
   WHERE t.tenant_id = $1
     AND t.ticket_id <> $3
     AND t.search @@ q.query
   ORDER BY t.received_at DESC NULLS LAST
   LIMIT $5
)
SELECT r.ticket_id, r.subject, r.status, ts_rank(r.search, q.query) AS rank
  FROM recent r, q
 ORDER BY rank DESC, r.ticket_id
 LIMIT $4
