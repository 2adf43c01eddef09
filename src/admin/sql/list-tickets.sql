-- One page of a tenant's tickets, newest received first; a NULL parameter does not filter. The text
-- is searched with websearch syntax over tickets.search (the full-text index the context stage
-- uses); a ticket id given as the text matches too. Keyset paging: the page after ($6, $7).
-- $1 tenant_id, $2 status, $3 text, $4 received at or after, $5 received before,
-- $6 cursor received_at (text, full precision), $7 cursor ticket_id, $8 rows at most
SELECT ticket_id, status, subject, priority, category,
       enhancement->>'suggestedPriority' AS suggested_priority,
       received_at, context_gathered_at, enhanced_at, written_back_at, failed_at, updated_at,
       received_at::text AS cursor_at
  FROM tickets
 WHERE tenant_id = $1
   AND received_at IS NOT NULL
   AND ($2::text IS NULL OR status = $2)
   AND ($3::text IS NULL OR search @@ websearch_to_tsquery('english', $3) OR ticket_id = $3)
   AND ($4::timestamptz IS NULL OR received_at >= $4)
   AND ($5::timestamptz IS NULL OR received_at < $5)
   AND ($6::timestamptz IS NULL OR (received_at, ticket_id) < ($6::timestamptz, $7::text))
 ORDER BY received_at DESC, ticket_id DESC
 LIMIT $8
