-- The tickets projection converges whatever order a ticket's events arrive in (consumer groups keep
-- no order across consumers or across a takeover). Each group of columns that more than one event
-- can fill records the stream position of the event that filled it: a newer event wins those
-- columns, an older one still fills what nothing newer filled. Only the newest event of all
-- (last_stream_id) decides status, last_event_id and updated_at.
ALTER TABLE tickets
  ADD COLUMN ticket_position      numeric, -- subject, description, received_at
  ADD COLUMN priority_position    numeric,
  ADD COLUMN category_position    numeric,
  ADD COLUMN requester_position   numeric,
  ADD COLUMN context_position     numeric, -- context, context_gathered_at
  ADD COLUMN enhancement_position numeric, -- enhancement, enhanced_at
  ADD COLUMN writeback_position   numeric, -- writeback, written_back_at
  ADD COLUMN failure_position     numeric; -- failure, failed_at: only while no step succeeded after it

-- Whether an event at position `candidate` wins columns last filled at position `current` (NULL: never filled).
CREATE FUNCTION position_newer(candidate numeric, current numeric) RETURNS boolean
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  AS $$ SELECT candidate > COALESCE(current, -1) $$;

-- Rows projected before: a filled column counts as filled by the row's last event, so nothing
-- older overwrites it; a failure that a later step overcame is cleared; event ids are kept sorted,
-- so a row does not depend on the order its events were applied in.
UPDATE tickets SET
  ticket_position      = CASE WHEN subject IS NOT NULL THEN stream_position(last_stream_id) END,
  priority_position    = CASE WHEN priority IS NOT NULL THEN stream_position(last_stream_id) END,
  category_position    = CASE WHEN category IS NOT NULL THEN stream_position(last_stream_id) END,
  requester_position   = CASE WHEN requester IS NOT NULL THEN stream_position(last_stream_id) END,
  context_position     = CASE WHEN context IS NOT NULL THEN stream_position(last_stream_id) END,
  enhancement_position = CASE WHEN enhancement IS NOT NULL THEN stream_position(last_stream_id) END,
  writeback_position   = CASE WHEN writeback IS NOT NULL THEN stream_position(last_stream_id) END,
  failure_position     = CASE WHEN status = 'failed' AND failure IS NOT NULL THEN stream_position(last_stream_id) END,
  failure              = CASE WHEN status = 'failed' THEN failure END,
  failed_at            = CASE WHEN status = 'failed' THEN failed_at END,
  event_ids            = ARRAY(SELECT DISTINCT id FROM unnest(event_ids) AS id ORDER BY id);
