-- The ticket as received, from the archived ticket.received event that started a chain; used for
-- context_gathered events written before they carried the ticket.
-- $1 tenant_id, $2 ticket.received event id (the chain's correlation id)
SELECT data->'ticket' AS ticket
  FROM events
 WHERE tenant_id = $1 AND event_id = $2 AND type = 'ticket.received'
