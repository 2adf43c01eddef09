-- The projector skips an event id it has already applied to a ticket (a redriven dead letter keeps
-- its event id), so live state and a rebuild from the archive (unique event ids) stay equal.
ALTER TABLE tickets ADD COLUMN event_ids uuid[] NOT NULL DEFAULT '{}';
UPDATE tickets SET event_ids = ARRAY[last_event_id];
