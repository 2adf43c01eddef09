-- The usage report (src/llm/sql/usage-report.sql) reads a tenant's ticket.enhanced events since a
-- time; this keeps it from scanning the whole archive.
CREATE INDEX events_enhanced ON events (tenant_id, occurred_at) WHERE type = 'ticket.enhanced';
CREATE INDEX events_enhanced_time ON events (occurred_at) WHERE type = 'ticket.enhanced';
