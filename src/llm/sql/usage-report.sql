-- LLM usage per tenant and model, from the archived ticket.enhanced events (each archived once,
-- by event id, so the figures are exact whatever the redeliveries).
-- $1 tenant id (NULL: every tenant), $2 since (timestamptz, on the event's time)
-- Returns per tenant and model: enhancements, distinct tickets, prompt and completion tokens,
-- cost_usd (sum over the events that carry a cost; NULL when none does), priced (those events),
-- offline_over_budget (enhanced offline because the tenant was over budget), waited_for_budget.
SELECT tenant_id AS tenant,
       data ->> 'model' AS model,
       count(*)::int AS enhancements,
       count(DISTINCT ticket_id)::int AS tickets,
       coalesce(sum((data -> 'tokens' ->> 'prompt')::bigint), 0)::text AS prompt_tokens,
       coalesce(sum((data -> 'tokens' ->> 'completion')::bigint), 0)::text AS completion_tokens,
       sum((data ->> 'costUsd')::numeric)::text AS cost_usd,
       count(data -> 'costUsd')::int AS priced,
       count(*) FILTER (WHERE data -> 'budget' ->> 'action' = 'offline')::int AS offline_over_budget,
       count(*) FILTER (WHERE data -> 'budget' ->> 'action' = 'waited')::int AS waited_for_budget
  FROM events
 WHERE type = 'ticket.enhanced'
   AND ($1::text IS NULL OR tenant_id = $1)
   AND occurred_at >= $2
 GROUP BY tenant_id, data ->> 'model'
 ORDER BY tenant_id, model
