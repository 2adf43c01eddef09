-- Applies a batch's events to tickets, folded to one change per ticket (see ticket-fold.ts), in any
-- order: each group of columns (ticket, priority, category, requester, context, enhancement,
-- writeback, failure) takes the change's values unless a newer event (by stream position) already
-- filled it; created_at keeps the earliest reported. A failure shows only while no step succeeded
-- after it: a newer success clears it, an older failure never shows. Only the newest event of the
-- row decides status, last_event_id, last_stream_id and updated_at. Column groups merge the same
-- whatever was applied before, so a change whose events were partly applied already gives the same
-- row; a change whose events were all applied changes nothing. version counts the event ids applied.
-- $1 a JSON array of changes, one per ticket, each an object keyed by the columns it fills:
-- tenant_id, ticket_id, event_ids (sorted), status, last_event_id, last_stream_id, updated_at (of the
-- newest event); subject, description, received_at, ticket_position (of the newest ticket.received);
-- priority, category, requester and their positions; created_at (earliest reported by the helpdesk);
-- context, enhancement, writeback, failure, each with its timestamp and position (a position is a
-- stream_position() as a decimal string). A key left out is NULL: nothing in the change fills it.
-- Returns one row per ticket changed: the ticket, its status after it, and its received → written
-- back time in ms (NULL until both are known).
INSERT INTO tickets AS t (tenant_id, ticket_id, status, subject, description, priority, category, requester,
                          created_at, received_at, context, enhancement, writeback, failure,
                          context_gathered_at, enhanced_at, written_back_at, failed_at,
                          updated_at, last_event_id, last_stream_id, version, event_ids,
                          ticket_position, priority_position, category_position, requester_position,
                          context_position, enhancement_position, writeback_position, failure_position)
SELECT c.tenant_id, c.ticket_id, c.status, c.subject, c.description, c.priority, c.category, c.requester,
       c.created_at, c.received_at, c.context, c.enhancement, c.writeback, c.failure,
       c.context_gathered_at, c.enhanced_at, c.written_back_at, c.failed_at,
       c.updated_at, c.last_event_id, c.last_stream_id, cardinality(c.event_ids), c.event_ids,
       c.ticket_position, c.priority_position, c.category_position, c.requester_position,
       c.context_position, c.enhancement_position, c.writeback_position, c.failure_position
  FROM jsonb_to_recordset($1::jsonb) AS c (
         tenant_id text, ticket_id text, event_ids uuid[], status text, last_event_id uuid, last_stream_id text,
         updated_at timestamptz, subject text, description text, received_at timestamptz, ticket_position numeric,
         priority text, priority_position numeric, category text, category_position numeric,
         requester jsonb, requester_position numeric, created_at timestamptz,
         context jsonb, context_gathered_at timestamptz, context_position numeric,
         enhancement jsonb, enhanced_at timestamptz, enhancement_position numeric,
         writeback jsonb, written_back_at timestamptz, writeback_position numeric,
         failure jsonb, failed_at timestamptz, failure_position numeric)
ON CONFLICT (tenant_id, ticket_id) DO UPDATE SET
  subject = CASE WHEN position_newer(EXCLUDED.ticket_position, t.ticket_position) THEN EXCLUDED.subject ELSE t.subject END,
  description = CASE WHEN position_newer(EXCLUDED.ticket_position, t.ticket_position) THEN EXCLUDED.description ELSE t.description END,
  received_at = CASE WHEN position_newer(EXCLUDED.ticket_position, t.ticket_position) THEN EXCLUDED.received_at ELSE t.received_at END,
  ticket_position = GREATEST(t.ticket_position, EXCLUDED.ticket_position),
  priority = CASE WHEN position_newer(EXCLUDED.priority_position, t.priority_position) THEN EXCLUDED.priority ELSE t.priority END,
  priority_position = GREATEST(t.priority_position, EXCLUDED.priority_position),
  category = CASE WHEN position_newer(EXCLUDED.category_position, t.category_position) THEN EXCLUDED.category ELSE t.category END,
  category_position = GREATEST(t.category_position, EXCLUDED.category_position),
  requester = CASE WHEN position_newer(EXCLUDED.requester_position, t.requester_position) THEN EXCLUDED.requester ELSE t.requester END,
  requester_position = GREATEST(t.requester_position, EXCLUDED.requester_position),
  created_at = LEAST(t.created_at, EXCLUDED.created_at),
  context = CASE WHEN position_newer(EXCLUDED.context_position, t.context_position) THEN EXCLUDED.context ELSE t.context END,
  context_gathered_at = CASE WHEN position_newer(EXCLUDED.context_position, t.context_position) THEN EXCLUDED.context_gathered_at ELSE t.context_gathered_at END,
  context_position = GREATEST(t.context_position, EXCLUDED.context_position),
  enhancement = CASE WHEN position_newer(EXCLUDED.enhancement_position, t.enhancement_position) THEN EXCLUDED.enhancement ELSE t.enhancement END,
  enhanced_at = CASE WHEN position_newer(EXCLUDED.enhancement_position, t.enhancement_position) THEN EXCLUDED.enhanced_at ELSE t.enhanced_at END,
  enhancement_position = GREATEST(t.enhancement_position, EXCLUDED.enhancement_position),
  writeback = CASE WHEN position_newer(EXCLUDED.writeback_position, t.writeback_position) THEN EXCLUDED.writeback ELSE t.writeback END,
  written_back_at = CASE WHEN position_newer(EXCLUDED.writeback_position, t.writeback_position) THEN EXCLUDED.written_back_at ELSE t.written_back_at END,
  writeback_position = GREATEST(t.writeback_position, EXCLUDED.writeback_position),
  -- The change's failure is already dropped if a success in it came later. It shows if it is newer
  -- than every failure and success so far; the old one stays unless a success in the change came after it.
  failure = CASE
    WHEN position_newer(EXCLUDED.failure_position, GREATEST(t.failure_position, t.context_position, t.enhancement_position, t.writeback_position)) THEN EXCLUDED.failure
    WHEN position_newer(t.failure_position, GREATEST(EXCLUDED.context_position, EXCLUDED.enhancement_position, EXCLUDED.writeback_position)) THEN t.failure END,
  failed_at = CASE
    WHEN position_newer(EXCLUDED.failure_position, GREATEST(t.failure_position, t.context_position, t.enhancement_position, t.writeback_position)) THEN EXCLUDED.failed_at
    WHEN position_newer(t.failure_position, GREATEST(EXCLUDED.context_position, EXCLUDED.enhancement_position, EXCLUDED.writeback_position)) THEN t.failed_at END,
  failure_position = CASE
    WHEN position_newer(EXCLUDED.failure_position, GREATEST(t.failure_position, t.context_position, t.enhancement_position, t.writeback_position)) THEN EXCLUDED.failure_position
    WHEN position_newer(t.failure_position, GREATEST(EXCLUDED.context_position, EXCLUDED.enhancement_position, EXCLUDED.writeback_position)) THEN t.failure_position END,
  status = CASE WHEN position_newer(stream_position(EXCLUDED.last_stream_id), stream_position(t.last_stream_id)) THEN EXCLUDED.status ELSE t.status END,
  updated_at = CASE WHEN position_newer(stream_position(EXCLUDED.last_stream_id), stream_position(t.last_stream_id)) THEN EXCLUDED.updated_at ELSE t.updated_at END,
  last_event_id = CASE WHEN position_newer(stream_position(EXCLUDED.last_stream_id), stream_position(t.last_stream_id)) THEN EXCLUDED.last_event_id ELSE t.last_event_id END,
  last_stream_id = CASE WHEN position_newer(stream_position(EXCLUDED.last_stream_id), stream_position(t.last_stream_id)) THEN EXCLUDED.last_stream_id ELSE t.last_stream_id END,
  version = t.version + (SELECT count(*)::int FROM unnest(EXCLUDED.event_ids) AS id WHERE id <> ALL (t.event_ids)),
  event_ids = ARRAY(SELECT DISTINCT id FROM unnest(t.event_ids || EXCLUDED.event_ids) AS id ORDER BY id)
WHERE NOT EXCLUDED.event_ids <@ t.event_ids
RETURNING t.ticket_id, t.status, (extract(epoch FROM t.written_back_at - t.received_at) * 1000)::float8 AS written_back_after_ms
