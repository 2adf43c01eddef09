import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { groupMetrics, type GroupStatusOptions, type GroupStatusSource } from './group-metrics.js';
import type { RedisKeys } from '../streams/keys.js';
import type { RunnerObserver } from '../streams/observer.js';
import type { RedisClient } from '../streams/redis.js';
import { tenantStatus, type TenantStatus } from '../streams/status.js';

export type { GroupStatusSource } from './group-metrics.js';

export type Metrics = RunnerObserver & {
  readonly registry: Registry;
  readonly contentType: string;
  render(): Promise<string>;
  httpRequest(route: string, method: string, status: number, durationMs: number): void;
  webhookAccepted(tenant: string, duplicate: boolean): void;
  ticketCompleted(tenant: string, latencyMs: number): void;
  llmTokens(model: string, prompt: number, completion: number): void;
  /** A tenant's LLM call: tokens and cost (unknown price: tokens only). */
  llmUsage(
    tenant: string,
    model: string,
    tokens: Readonly<{ prompt: number; completion: number }>,
    costUsd: number | undefined,
  ): void;
  /** A ticket of an over-budget tenant was enhanced offline or made to wait. */
  budgetDecision(tenant: string, action: 'offline' | 'wait'): void;
  /** Calls that had to wait at the provider's shared gate, by reason. */
  llmGateWaited(provider: string, reason: string): void;
  /** The gate's state after a call: concurrency window, breaker open or not, pause. */
  llmGateState(provider: string, state: Readonly<{ window: number; breaker: string; pausedMs: number }>): void;
  /**
   * Fills the per-group lag, pending and oldest-pending-age gauges from `source` at scrape time,
   * at most once per `minIntervalMs` and for at most `timeoutMs` (past it, the last values stay).
   */
  collectGroupStatus(source: GroupStatusSource, options?: GroupStatusOptions): void;
};

type TenantLabel = (tenant: string) => string;

const latencyBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

/** HTTP requests and accepted webhooks. */
function ingestMetrics(registry: Registry, t: TenantLabel): Pick<Metrics, 'httpRequest' | 'webhookAccepted'> {
  const httpRequests = new Counter({
    name: 'streamdesk_http_requests_total',
    help: 'HTTP requests by route, method and status',
    labelNames: ['route', 'method', 'status'],
    registers: [registry],
  });
  const httpDuration = new Histogram({
    name: 'streamdesk_http_request_duration_seconds',
    help: 'HTTP request duration',
    labelNames: ['route', 'method'],
    buckets: latencyBuckets,
    registers: [registry],
  });
  const webhooks = new Counter({
    name: 'streamdesk_webhooks_accepted_total',
    help: 'Webhooks accepted (202), by tenant and whether the delivery was a repeat',
    labelNames: ['tenant', 'duplicate'],
    registers: [registry],
  });
  return {
    httpRequest(route, method, status, durationMs) {
      httpRequests.inc({ route, method, status: String(status) });
      httpDuration.observe({ route, method }, durationMs / 1_000);
    },
    webhookAccepted: (tenant, duplicate) => webhooks.inc({ tenant: t(tenant), duplicate: String(duplicate) }),
  };
}

/** What the consumer groups report as they work, and each ticket's time to write-back. */
function pipelineMetrics(registry: Registry, t: TenantLabel): RunnerObserver & Pick<Metrics, 'ticketCompleted'> {
  const counter = (name: string, help: string, labelNames: string[]) =>
    new Counter({ name, help, labelNames, registers: [registry] });
  const handled = counter('streamdesk_events_processed_total', 'Events handled by a consumer group', [
    'group',
    'tenant',
  ]);
  const handlerDuration = new Histogram({
    name: 'streamdesk_handler_duration_seconds',
    help: 'Duration of a group handler call (one batch)',
    labelNames: ['group'],
    buckets: latencyBuckets,
    registers: [registry],
  });
  const failed = counter('streamdesk_events_failed_total', 'Handler failures, by error code', [
    'group',
    'tenant',
    'code',
  ]);
  const retried = counter('streamdesk_events_retried_total', 'Retries scheduled after a failure', ['group', 'tenant']);
  const deadLettered = counter('streamdesk_events_dead_lettered_total', 'Entries moved to the dead-letter stream', [
    'group',
    'tenant',
    'code',
  ]);
  const reclaimed = counter('streamdesk_events_reclaimed_total', 'Entries taken over from an idle consumer', [
    'group',
    'tenant',
  ]);
  const ticketLatency = new Histogram({
    name: 'streamdesk_ticket_latency_seconds',
    help: 'Time from webhook to written back, per ticket',
    labelNames: ['tenant'],
    buckets: latencyBuckets,
    registers: [registry],
  });
  return {
    handled(group, tenant, count, durationMs) {
      handled.inc({ group, tenant: t(tenant) }, count);
      handlerDuration.observe({ group }, durationMs / 1_000);
    },
    failed: (group, tenant, code) => failed.inc({ group, tenant: t(tenant), code }),
    retried: (group, tenant) => retried.inc({ group, tenant: t(tenant) }),
    deadLettered: (group, tenant, code) => deadLettered.inc({ group, tenant: t(tenant), code }),
    reclaimed: (group, tenant, count) => reclaimed.inc({ group, tenant: t(tenant) }, count),
    ticketCompleted: (tenant, latencyMs) => ticketLatency.observe({ tenant: t(tenant) }, latencyMs / 1_000),
  };
}

/** LLM tokens and cost, budget decisions. */
function llmUsageMetrics(
  registry: Registry,
  t: TenantLabel,
): Pick<Metrics, 'llmTokens' | 'llmUsage' | 'budgetDecision'> {
  const counter = (name: string, help: string, labelNames: string[]) =>
    new Counter({ name, help, labelNames, registers: [registry] });
  const tokens = counter('streamdesk_llm_tokens_total', 'LLM tokens used', ['model', 'kind']);
  const tenantTokens = counter('streamdesk_tenant_llm_tokens_total', 'LLM tokens used, by tenant, model and kind', [
    'tenant',
    'model',
    'kind',
  ]);
  const tenantCost = counter(
    'streamdesk_tenant_llm_cost_usd_total',
    'LLM cost in USD from the price table, by tenant and model',
    ['tenant', 'model'],
  );
  const budgetDecisions = counter(
    'streamdesk_budget_decisions_total',
    'Tickets of an over-budget tenant enhanced offline or made to wait (each wait counted once per check)',
    ['tenant', 'action'],
  );
  return {
    llmTokens(model, prompt, completion) {
      tokens.inc({ model, kind: 'prompt' }, prompt);
      tokens.inc({ model, kind: 'completion' }, completion);
    },
    llmUsage(tenant, model, usage, costUsd) {
      tenantTokens.inc({ tenant: t(tenant), model, kind: 'prompt' }, usage.prompt);
      tenantTokens.inc({ tenant: t(tenant), model, kind: 'completion' }, usage.completion);
      if (costUsd !== undefined) tenantCost.inc({ tenant: t(tenant), model }, costUsd);
    },
    budgetDecision: (tenant, action) => budgetDecisions.inc({ tenant: t(tenant), action }),
  };
}

/** The shared gate towards the LLM provider: waits, concurrency window, breaker, pause. */
function llmGateMetrics(registry: Registry): Pick<Metrics, 'llmGateWaited' | 'llmGateState'> {
  const gateWaits = new Counter({
    name: 'streamdesk_llm_gate_waits_total',
    help: 'LLM calls that waited at the shared gate, by reason (requests, tokens, concurrency, paused, open, probing)',
    labelNames: ['provider', 'reason'],
    registers: [registry],
  });
  const gauge = (name: string, help: string) =>
    new Gauge({ name, help, labelNames: ['provider'], registers: [registry] });
  const gateWindow = gauge(
    'streamdesk_llm_concurrency_window',
    'Adaptive limit of LLM calls in flight across all workers',
  );
  const gateOpen = gauge(
    'streamdesk_llm_breaker_open',
    '1 while the circuit breaker towards the provider is open or half-open',
  );
  const gatePaused = gauge(
    'streamdesk_llm_paused_seconds',
    'Seconds calls to the provider stay paused after a 429, as of the last call',
  );
  return {
    llmGateWaited: (provider, reason) => gateWaits.inc({ provider, reason }),
    llmGateState(provider, state) {
      gateWindow.set({ provider }, state.window);
      gateOpen.set({ provider }, state.breaker === 'closed' ? 0 : 1);
      gatePaused.set({ provider }, state.pausedMs / 1_000);
    },
  };
}

/**
 * Prometheus metrics. With `tenantLabel` off, every per-tenant series collapses into one
 * (tenant="*"), which bounds cardinality for deployments with many tenants.
 */
export function createMetrics(options: { tenantLabel: boolean; defaultMetrics?: boolean }): Metrics {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'streamdesk_' });
  const t = (tenant: string) => (options.tenantLabel ? tenant : '*');
  // Registered in this order, which is the order of the exposition.
  return {
    registry,
    contentType: registry.contentType,
    render: () => registry.metrics(),
    ...ingestMetrics(registry, t),
    ...pipelineMetrics(registry, t),
    ...llmUsageMetrics(registry, t),
    ...llmGateMetrics(registry),
    ...groupMetrics(registry, t),
  };
}

/** Status of every registered tenant's stream, `concurrency` tenants at a time; stops once `signal` aborts. */
export function tenantStatusSource(redis: RedisClient, keys: RedisKeys, concurrency = 8): GroupStatusSource {
  return async (signal) => {
    const tenants = (await redis.smembers(keys.tenantIds)).sort();
    const statuses: TenantStatus[] = [];
    let next = 0;
    const worker = async () => {
      while (next < tenants.length) {
        signal.throwIfAborted();
        statuses.push(await tenantStatus(redis, keys, tenants[next++]!));
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, tenants.length) }, worker));
    return statuses;
  };
}
