import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { RunnerObserver } from '../streams/observer.js';

export type Metrics = RunnerObserver & {
  readonly registry: Registry;
  readonly contentType: string;
  render(): Promise<string>;
  httpRequest(route: string, method: string, status: number, durationMs: number): void;
  webhookAccepted(tenant: string, duplicate: boolean): void;
  ticketCompleted(tenant: string, latencyMs: number): void;
  llmTokens(model: string, prompt: number, completion: number): void;
  /** Sets a gauge collected on scrape, e.g. per-group lag. */
  setGroupGauges(tenant: string, group: string, values: { lag: number | null; pending: number; oldestPendingAgeMs: number | null }): void;
};

/**
 * Prometheus metrics. With `tenantLabel` off, every per-tenant series collapses into one
 * (tenant="*"), which bounds cardinality for deployments with many tenants.
 */
export function createMetrics(options: { tenantLabel: boolean; defaultMetrics?: boolean }): Metrics {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'streamdesk_' });
  const t = (tenant: string) => (options.tenantLabel ? tenant : '*');
  const latencyBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

  const httpRequests = new Counter({ name: 'streamdesk_http_requests_total', help: 'HTTP requests by route, method and status', labelNames: ['route', 'method', 'status'], registers: [registry] });
  const httpDuration = new Histogram({ name: 'streamdesk_http_request_duration_seconds', help: 'HTTP request duration', labelNames: ['route', 'method'], buckets: latencyBuckets, registers: [registry] });
  const webhooks = new Counter({ name: 'streamdesk_webhooks_accepted_total', help: 'Webhooks accepted (202), by tenant and whether the delivery was a repeat', labelNames: ['tenant', 'duplicate'], registers: [registry] });
  const handled = new Counter({ name: 'streamdesk_events_processed_total', help: 'Events handled by a consumer group', labelNames: ['group', 'tenant'], registers: [registry] });
  const handlerDuration = new Histogram({ name: 'streamdesk_handler_duration_seconds', help: 'Duration of a group handler call (one batch)', labelNames: ['group'], buckets: latencyBuckets, registers: [registry] });
  const failed = new Counter({ name: 'streamdesk_events_failed_total', help: 'Handler failures, by error code', labelNames: ['group', 'tenant', 'code'], registers: [registry] });
  const retried = new Counter({ name: 'streamdesk_events_retried_total', help: 'Retries scheduled after a failure', labelNames: ['group', 'tenant'], registers: [registry] });
  const deadLettered = new Counter({ name: 'streamdesk_events_dead_lettered_total', help: 'Entries moved to the dead-letter stream', labelNames: ['group', 'tenant', 'code'], registers: [registry] });
  const reclaimed = new Counter({ name: 'streamdesk_events_reclaimed_total', help: 'Entries taken over from an idle consumer', labelNames: ['group', 'tenant'], registers: [registry] });
  const ticketLatency = new Histogram({ name: 'streamdesk_ticket_latency_seconds', help: 'Time from webhook to written back, per ticket', labelNames: ['tenant'], buckets: latencyBuckets, registers: [registry] });
  const tokens = new Counter({ name: 'streamdesk_llm_tokens_total', help: 'LLM tokens used', labelNames: ['model', 'kind'], registers: [registry] });
  const lag = new Gauge({ name: 'streamdesk_group_lag', help: 'Entries not yet delivered to the group', labelNames: ['group', 'tenant'], registers: [registry] });
  const pending = new Gauge({ name: 'streamdesk_group_pending', help: 'Entries delivered but not acknowledged', labelNames: ['group', 'tenant'], registers: [registry] });
  const oldestPending = new Gauge({ name: 'streamdesk_group_oldest_pending_age_seconds', help: 'Age of the oldest unacknowledged entry', labelNames: ['group', 'tenant'], registers: [registry] });

  return {
    registry,
    contentType: registry.contentType,
    render: () => registry.metrics(),
    httpRequest(route, method, status, durationMs) {
      httpRequests.inc({ route, method, status: String(status) });
      httpDuration.observe({ route, method }, durationMs / 1_000);
    },
    webhookAccepted: (tenant, duplicate) => webhooks.inc({ tenant: t(tenant), duplicate: String(duplicate) }),
    ticketCompleted: (tenant, latencyMs) => ticketLatency.observe({ tenant: t(tenant) }, latencyMs / 1_000),
    llmTokens(model, prompt, completion) {
      tokens.inc({ model, kind: 'prompt' }, prompt);
      tokens.inc({ model, kind: 'completion' }, completion);
    },
    setGroupGauges(tenant, group, values) {
      lag.set({ group, tenant: t(tenant) }, values.lag ?? 0);
      pending.set({ group, tenant: t(tenant) }, values.pending);
      oldestPending.set({ group, tenant: t(tenant) }, (values.oldestPendingAgeMs ?? 0) / 1_000);
    },
    handled(group, tenant, count, durationMs) {
      handled.inc({ group, tenant: t(tenant) }, count);
      handlerDuration.observe({ group }, durationMs / 1_000);
    },
    failed: (group, tenant, code) => failed.inc({ group, tenant: t(tenant), code }),
    retried: (group, tenant) => retried.inc({ group, tenant: t(tenant) }),
    deadLettered: (group, tenant, code) => deadLettered.inc({ group, tenant: t(tenant), code }),
    reclaimed: (group, tenant, count) => reclaimed.inc({ group, tenant: t(tenant) }, count),
  };
}
