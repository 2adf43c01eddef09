-- Past tickets of the same tenant that share words with this one, best first, among the tenant's
-- most recent tickets: the cost stays bounded by that window instead of growing with the tenant's
-- whole history on every ticket (common words make almost every past ticket a match). The window
-- comes from recent_tickets() (migration 015), whose plan is the ordered tickets_recent index scan
-- with or without planner statistics. The query text's terms are OR-ed (plainto_tsquery would AND
-- them, and a long description would then match nothing).
-- $1 tenant_id, $2 query text (subject and description, already truncated), $3 this ticket's id (never returned),
-- $4 limit, $5 how many of the most recent tickets are searched
WITH q AS (SELECT replace(plainto_tsquery('english', $2)::text, ' & ', ' | ')::tsquery AS query)
SELECT r.ticket_id, r.subject, r.status, ts_rank(r.search, q.query) AS rank
  FROM recent_tickets($1, $5) r, q
 WHERE r.ticket_id <> $3
   AND r.search @@ q.query
 ORDER BY rank DESC, r.ticket_id
 LIMIT $4
