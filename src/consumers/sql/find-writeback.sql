-- The recorded write-back of one enhancement, if it was already written.
-- $1 tenant_id, $2 ticket_id, $3 enhancement event id
SELECT target, note_id, status
  FROM writebacks
 WHERE tenant_id = $1 AND ticket_id = $2 AND enhancement_id = $3
