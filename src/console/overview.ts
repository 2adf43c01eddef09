import type { Db } from '../projections/db.js';
import type { RedisKeys } from '../streams/keys.js';
import type { RedisClient } from '../streams/redis.js';
import { infoRecords } from '../streams/reply.js';
import { allTenantsStatus, type GroupStatus } from '../streams/status.js';
import { sqlFiles } from '../sql-files.js';
import type { TenantRegistry } from '../tenants/registry.js';

const consoleSql = sqlFiles(new URL('./sql/', import.meta.url), { history: 'history' });

export type GroupOverview = GroupStatus & {
  /** Consumers that read within the claim timeout. */
  liveConsumers: number;
  /** Consumers holding entries that they have not touched for longer than the claim timeout: a crashed or hung process. */
  stalledConsumers: number;
  /** Entries the group finished per second since the previous sample; null on the first sample. */
  perSecond: number | null;
};
export type TenantOverview = { tenant: string; streamLength: number; dlqLength: number; groups: GroupOverview[] };
export type Overview = { at: string; tenants: TenantOverview[] };
export type HistoryPoint = {
  minute: string;
  writtenBack: number;
  p50Ms: number | null;
  p95Ms: number | null;
  inFlight: number;
};

type Sample = { at: number; entriesRead: number; pending: number };

/**
 * The console's live numbers: the admin status of every tenant (`tenantStatus`), with each group's
 * live and stalled consumers and its throughput between two samples. Concurrent viewers share one
 * sample a second; history comes from the tickets' step times, so it survives a restart.
 */
export class OverviewSource {
  private readonly previous = new Map<string, Sample>();
  private latest: { at: number; overview: Promise<Overview> } | undefined;
  private history: { at: number; key: string; points: Promise<HistoryPoint[]> } | undefined;

  constructor(
    private readonly deps: {
      redis: RedisClient;
      keys: RedisKeys;
      registry: TenantRegistry;
      db: Db;
      claimIdleMs: number;
    },
  ) {}

  overview(): Promise<Overview> {
    const now = Date.now();
    if (!this.latest || now - this.latest.at >= 1_000) {
      const overview = this.sample(now);
      // A failed sample is not kept: the next viewer tries again.
      overview.catch(() => (this.latest = undefined));
      this.latest = { at: now, overview };
    }
    return this.latest.overview;
  }

  /** Per minute over the last hour, for the given tenants (all when none); computed at most every 15 s. */
  async lastHour(tenants?: readonly string[]): Promise<HistoryPoint[]> {
    const ids =
      tenants && tenants.length > 0 ? [...tenants] : (await this.deps.registry.list()).map((tenant) => tenant.id);
    const key = ids.join(',');
    const now = Date.now();
    if (!this.history || this.history.key !== key || now - this.history.at >= 15_000) {
      const points = this.queryHistory(ids, now);
      points.catch(() => (this.history = undefined));
      this.history = { at: now, key, points };
    }
    return this.history.points;
  }

  private async queryHistory(tenants: string[], now: number): Promise<HistoryPoint[]> {
    type Row = { minute: Date; written_back: number; p50_ms: number | null; p95_ms: number | null; in_flight: number };
    const { rows } = await this.deps.db.query<Row>(consoleSql.history, [tenants, new Date(now), 60]);
    const round = (ms: number | null) => (ms === null ? null : Math.round(ms));
    return rows.map((row) => ({
      minute: row.minute.toISOString(),
      writtenBack: row.written_back,
      p50Ms: round(row.p50_ms),
      p95Ms: round(row.p95_ms),
      inFlight: row.in_flight,
    }));
  }

  private async sample(now: number): Promise<Overview> {
    const { redis, keys, registry } = this.deps;
    const ids = (await registry.list()).map(({ id }) => id);
    // Consumer states come from the shared status (runner heartbeats): Redis 7.0 does not refresh a
    // consumer's idle time on an empty read, so idle time alone would call a live consumer stalled.
    const statuses = await allTenantsStatus(redis, keys, ids, { now, claimIdleMs: this.deps.claimIdleMs });
    const tenants = await Promise.all(
      statuses.map(async (status) => {
        const progress = await this.groupProgress(status.tenant);
        const groups = status.groups.map((group) => ({
          ...group,
          ...consumerHealth(group),
          perSecond: this.perSecond(status.tenant, group, progress.get(group.name), now),
        }));
        return { tenant: status.tenant, streamLength: status.streamLength, dlqLength: status.dlqLength, groups };
      }),
    );
    return { at: new Date(now).toISOString(), tenants: tenants.sort((a, b) => a.tenant.localeCompare(b.tenant)) };
  }

  /** Entries ever delivered to each group over both lanes (Redis 7's `entries-read`). */
  private async groupProgress(tenant: string): Promise<Map<string, number>> {
    const read = new Map<string, number>();
    for (const stream of this.deps.keys.lanes(tenant)) {
      // A lane not created yet has no groups.
      const groups = await this.deps.redis.xinfo('GROUPS', stream).catch(() => []);
      for (const info of infoRecords('XINFO GROUPS', groups))
        read.set(String(info.name), (read.get(String(info.name)) ?? 0) + Number(info['entries-read'] ?? 0));
    }
    return read;
  }

  private perSecond(tenant: string, group: GroupStatus, entriesRead: number | undefined, now: number): number | null {
    if (entriesRead === undefined) return null;
    const key = `${tenant}\u0000${group.name}`;
    const before = this.previous.get(key);
    this.previous.set(key, { at: now, entriesRead, pending: group.pending });
    if (!before || now <= before.at) return null;
    // Finished = delivered minus what is still pending.
    const finished = entriesRead - group.pending - (before.entriesRead - before.pending);
    return Math.max(0, Math.round((finished * 1_000 * 10) / (now - before.at)) / 10);
  }
}

function consumerHealth(group: GroupStatus): { liveConsumers: number; stalledConsumers: number } {
  const states = group.consumerStates ?? [];
  return {
    liveConsumers: states.filter((c) => c.state === 'live').length,
    stalledConsumers: states.filter((c) => c.state === 'stalled').length,
  };
}
