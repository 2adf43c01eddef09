import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { RedisKeys } from '../streams/keys.js';
import type { RunnerObserver } from '../streams/observer.js';
import type { RedisClient } from '../streams/redis.js';
import { tenantStatus, type TenantStatus } from '../streams/status.js';

/** Reads the tenants' stream status; should stop working once `signal` aborts (the scrape has moved on). */
export type GroupStatusSource = (signal: AbortSignal) => Promise<TenantStatus[]>;

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
  collectGroupStatus(source: GroupStatusSource, options?: { timeoutMs?: number; minIntervalMs?: number }): void;
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
  const handled = new Counter({
    name: 'streamdesk_events_processed_total',
    help: 'Events handled by a consumer group',
    labelNames: ['group', 'tenant'],
    registers: [registry],
  });
  const handlerDuration = new Histogram({
    name: 'streamdesk_handler_duration_seconds',
    help: 'Duration of a group handler call (one batch)',
    labelNames: ['group'],
    buckets: latencyBuckets,
    registers: [registry],
  });
  const failed = new Counter({
    name: 'streamdesk_events_failed_total',
    help: 'Handler failures, by error code',
    labelNames: ['group', 'tenant', 'code'],
    registers: [registry],
  });
  const retried = new Counter({
    name: 'streamdesk_events_retried_total',
    help: 'Retries scheduled after a failure',
    labelNames: ['group', 'tenant'],
    registers: [registry],
  });
  const deadLettered = new Counter({
    name: 'streamdesk_events_dead_lettered_total',
    help: 'Entries moved to the dead-letter stream',
    labelNames: ['group', 'tenant', 'code'],
    registers: [registry],
  });
  const reclaimed = new Counter({
    name: 'streamdesk_events_reclaimed_total',
    help: 'Entries taken over from an idle consumer',
    labelNames: ['group', 'tenant'],
    registers: [registry],
  });
  const ticketLatency = new Histogram({
    name: 'streamdesk_ticket_latency_seconds',
    help: 'Time from webhook to written back, per ticket',
    labelNames: ['tenant'],
    buckets: latencyBuckets,
    registers: [registry],
  });
  const tokens = new Counter({
    name: 'streamdesk_llm_tokens_total',
    help: 'LLM tokens used',
    labelNames: ['model', 'kind'],
    registers: [registry],
  });
  const tenantTokens = new Counter({
    name: 'streamdesk_tenant_llm_tokens_total',
    help: 'LLM tokens used, by tenant, model and kind',
    labelNames: ['tenant', 'model', 'kind'],
    registers: [registry],
  });
  const tenantCost = new Counter({
    name: 'streamdesk_tenant_llm_cost_usd_total',
    help: 'LLM cost in USD from the price table, by tenant and model',
    labelNames: ['tenant', 'model'],
    registers: [registry],
  });
  const budgetDecisions = new Counter({
    name: 'streamdesk_budget_decisions_total',
    help: 'Tickets of an over-budget tenant enhanced offline or made to wait (each wait counted once per check)',
    labelNames: ['tenant', 'action'],
    registers: [registry],
  });
  const gateWaits = new Counter({
    name: 'streamdesk_llm_gate_waits_total',
    help: 'LLM calls that waited at the shared gate, by reason (requests, tokens, concurrency, paused, open, probing)',
    labelNames: ['provider', 'reason'],
    registers: [registry],
  });
  const gateWindow = new Gauge({
    name: 'streamdesk_llm_concurrency_window',
    help: 'Adaptive limit of LLM calls in flight across all workers',
    labelNames: ['provider'],
    registers: [registry],
  });
  const gateOpen = new Gauge({
    name: 'streamdesk_llm_breaker_open',
    help: '1 while the circuit breaker towards the provider is open or half-open',
    labelNames: ['provider'],
    registers: [registry],
  });
  const gatePaused = new Gauge({
    name: 'streamdesk_llm_paused_seconds',
    help: 'Seconds calls to the provider stay paused after a 429, as of the last call',
    labelNames: ['provider'],
    registers: [registry],
  });
  const groupStatusErrors = new Counter({
    name: 'streamdesk_group_status_errors_total',
    help: 'Scrapes whose group status read failed or timed out (the group gauges kept their last values)',
    registers: [registry],
    // Metrics are collected concurrently: wait for this scrape's read, so a failure shows in the same scrape.
    collect: () => refreshGroupGauges(),
  });

  let groupStatus: { source: GroupStatusSource; timeoutMs: number; minIntervalMs: number } | undefined;
  let refreshing: Promise<void> | undefined;
  let reading = false;
  let refreshedAt = -Infinity;
  // The gauges share one read per scrape: whichever collects first starts it, the others await it.
  const refreshGroupGauges = (): Promise<void> => {
    if (!groupStatus) return Promise.resolve();
    if (refreshing && (reading || performance.now() - refreshedAt < groupStatus.minIntervalMs)) return refreshing;
    const { source, timeoutMs } = groupStatus;
    refreshedAt = performance.now();
    reading = true;
    refreshing = (async () => {
      const signal = AbortSignal.timeout(timeoutMs);
      const timedOut = new Promise<never>((_, reject) =>
        signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true }),
      );
      try {
        setGroupGauges(await Promise.race([source(signal), timedOut]));
      } catch {
        groupStatusErrors.inc();
      } finally {
        reading = false;
      }
    })();
    return refreshing;
  };
  const lag = new Gauge({
    name: 'streamdesk_group_lag',
    help: 'Entries not yet delivered to the group',
    labelNames: ['group', 'tenant'],
    registers: [registry],
    collect: refreshGroupGauges,
  });
  const pending = new Gauge({
    name: 'streamdesk_group_pending',
    help: 'Entries delivered but not acknowledged',
    labelNames: ['group', 'tenant'],
    registers: [registry],
    collect: refreshGroupGauges,
  });
  const oldestPending = new Gauge({
    name: 'streamdesk_group_oldest_pending_age_seconds',
    help: 'Age of the oldest unacknowledged entry',
    labelNames: ['group', 'tenant'],
    registers: [registry],
    collect: refreshGroupGauges,
  });

  /** Replaces the group gauges; with the tenant label collapsed, lag and pending add up and the oldest age is the maximum. */
  function setGroupGauges(statuses: readonly TenantStatus[]): void {
    const series = new Map<string, { group: string; tenant: string; lag: number; pending: number; oldestMs: number }>();
    for (const status of statuses) {
      for (const group of status.groups) {
        const tenant = t(status.tenant);
        const key = `${group.name} ${tenant}`;
        const entry = series.get(key) ?? { group: group.name, tenant, lag: 0, pending: 0, oldestMs: 0 };
        entry.lag += group.lag ?? 0;
        entry.pending += group.pending;
        entry.oldestMs = Math.max(entry.oldestMs, group.oldestPendingAgeMs ?? 0);
        series.set(key, entry);
      }
    }
    lag.reset();
    pending.reset();
    oldestPending.reset();
    for (const { group, tenant, ...values } of series.values()) {
      lag.set({ group, tenant }, values.lag);
      pending.set({ group, tenant }, values.pending);
      oldestPending.set({ group, tenant }, values.oldestMs / 1_000);
    }
  }

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
    llmUsage(tenant, model, usage, costUsd) {
      tenantTokens.inc({ tenant: t(tenant), model, kind: 'prompt' }, usage.prompt);
      tenantTokens.inc({ tenant: t(tenant), model, kind: 'completion' }, usage.completion);
      if (costUsd !== undefined) tenantCost.inc({ tenant: t(tenant), model }, costUsd);
    },
    budgetDecision: (tenant, action) => budgetDecisions.inc({ tenant: t(tenant), action }),
    llmGateWaited: (provider, reason) => gateWaits.inc({ provider, reason }),
    llmGateState(provider, state) {
      gateWindow.set({ provider }, state.window);
      gateOpen.set({ provider }, state.breaker === 'closed' ? 0 : 1);
      gatePaused.set({ provider }, state.pausedMs / 1_000);
    },
    collectGroupStatus(source, collectOptions = {}) {
      groupStatus = {
        source,
        timeoutMs: collectOptions.timeoutMs ?? 5_000,
        minIntervalMs: collectOptions.minIntervalMs ?? 1_000,
      };
      refreshing = undefined;
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
