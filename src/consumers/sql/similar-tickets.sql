-- For each ticket of a batch (one tenant), past tickets of that tenant that share words with it,
-- best first, among the tenant's most recent tickets: the cost stays bounded by that window instead
-- of growing with the tenant's whole history (common words make almost every past ticket a match).
-- The window is read once per batch through recent_tickets() (migration 015), whose plan is the
-- ordered tickets_recent index scan with or without planner statistics. Each query text's terms
-- are OR-ed (plainto_tsquery would AND them, and a long description would then match nothing).
-- $1 tenant_id, $2 query texts (subject and description, already truncated), $3 the tickets' ids
-- (a ticket never finds itself), $4 limit per ticket, $5 how many of the most recent tickets are searched
-- Rows come grouped by position (1-based, in the order of $2), best first.
WITH recent AS MATERIALIZED (SELECT * FROM recent_tickets($1, $5)),
input AS MATERIALIZED (
  SELECT u.position, u.ticket_id, replace(plainto_tsquery('english', u.text)::text, ' & ', ' | ')::tsquery AS query
    FROM unnest($2::text[], $3::text[]) WITH ORDINALITY AS u (text, ticket_id, position)
)
SELECT i.position::int AS position, s.ticket_id, s.subject, s.status, s.rank
  FROM input i
 CROSS JOIN LATERAL (
        SELECT r.ticket_id, r.subject, r.status, ts_rank(r.search, i.query) AS rank
          FROM recent r
         WHERE r.ticket_id <> i.ticket_id
           AND r.search @@ i.query
         ORDER BY rank DESC, r.ticket_id
         LIMIT $4
       ) s
 ORDER BY i.position, s.rank DESC, s.ticket_id
