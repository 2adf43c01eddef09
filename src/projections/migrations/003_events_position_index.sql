-- Replays read a tenant's archive in stream order, page by page.
CREATE INDEX events_position ON events (tenant_id, stream_position(stream_id));
