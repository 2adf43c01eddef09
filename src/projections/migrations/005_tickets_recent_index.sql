-- The context stage looks for similar tickets among a tenant's most recent ones.
CREATE INDEX tickets_recent ON tickets (tenant_id, received_at DESC);
