import { Counter, Gauge, type Registry } from 'prom-client';
import type { TenantStatus } from '../streams/status.js';

/** Reads the tenants' stream status; should stop working once `signal` aborts (the scrape has moved on). */
export type GroupStatusSource = (signal: AbortSignal) => Promise<TenantStatus[]>;

export type GroupStatusOptions = { timeoutMs?: number; minIntervalMs?: number };

type GroupGauges = Readonly<{ lag: Gauge; pending: Gauge; oldestPending: Gauge }>;

/** Replaces the group gauges; with the tenant label collapsed, lag and pending add up and the oldest age is the maximum. */
function setGroupGauges(gauges: GroupGauges, statuses: readonly TenantStatus[], t: (tenant: string) => string): void {
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
  gauges.lag.reset();
  gauges.pending.reset();
  gauges.oldestPending.reset();
  for (const { group, tenant, ...values } of series.values()) {
    gauges.lag.set({ group, tenant }, values.lag);
    gauges.pending.set({ group, tenant }, values.pending);
    gauges.oldestPending.set({ group, tenant }, values.oldestMs / 1_000);
  }
}

/**
 * One read of the group status shared by the gauges of a scrape: whichever collects first starts
 * it, the others await it; a read is reused for `minIntervalMs` and given up after `timeoutMs`.
 */
function groupStatusReader(apply: (statuses: TenantStatus[]) => void, failed: () => void) {
  let groupStatus: { source: GroupStatusSource; timeoutMs: number; minIntervalMs: number } | undefined;
  let refreshing: Promise<void> | undefined;
  let reading = false;
  let refreshedAt = -Infinity;
  const refresh = (): Promise<void> => {
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
        apply(await Promise.race([source(signal), timedOut]));
      } catch {
        failed();
      } finally {
        reading = false;
      }
    })();
    return refreshing;
  };
  const use = (source: GroupStatusSource, options: GroupStatusOptions = {}): void => {
    groupStatus = { source, timeoutMs: options.timeoutMs ?? 5_000, minIntervalMs: options.minIntervalMs ?? 1_000 };
    refreshing = undefined;
  };
  return { refresh, use };
}

/** The per-group lag, pending and oldest-pending-age gauges, filled from a status source at scrape time. */
export function groupMetrics(registry: Registry, t: (tenant: string) => string) {
  const groupStatusErrors = new Counter({
    name: 'streamdesk_group_status_errors_total',
    help: 'Scrapes whose group status read failed or timed out (the group gauges kept their last values)',
    registers: [registry],
    // Metrics are collected concurrently: wait for this scrape's read, so a failure shows in the same scrape.
    collect: () => reader.refresh(),
  });
  const reader = groupStatusReader(
    (statuses) => setGroupGauges(gauges, statuses, t),
    () => groupStatusErrors.inc(),
  );
  const gauge = (name: string, help: string) =>
    new Gauge({ name, help, labelNames: ['group', 'tenant'], registers: [registry], collect: reader.refresh });
  const gauges: GroupGauges = {
    lag: gauge('streamdesk_group_lag', 'Entries not yet delivered to the group'),
    pending: gauge('streamdesk_group_pending', 'Entries delivered but not acknowledged'),
    oldestPending: gauge('streamdesk_group_oldest_pending_age_seconds', 'Age of the oldest unacknowledged entry'),
  };
  return { collectGroupStatus: reader.use };
}
