-- The LLM cost of a ticket's enhancement in USD, as the ticket.enhanced event recorded it (the
-- projection keeps it in enhancement.costUsd); NULL before costs were recorded, or for a model
-- without a price. Generated, so the projection's statements need no change and a rebuild fills it.
ALTER TABLE tickets ADD COLUMN enhancement_cost_usd numeric GENERATED ALWAYS AS ((enhancement ->> 'costUsd')::numeric) STORED;
