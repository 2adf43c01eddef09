import { compareStreamIds } from './ids.js';
import type { RedisKeys } from './keys.js';
import { infoRecords, pendingSummary } from './reply.js';
import type { RedisClient } from './redis.js';
import { parseCountAfterReply, queueCountAfter } from './scripts.js';

/**
 * live: its process showed a sign of life (a heartbeat, or a read or claim Redis saw) within the
 * claim timeout. stalled: none for longer, while it holds entries (they are taken over). dead:
 * none for longer, holding nothing.
 */
export type ConsumerState = 'live' | 'stalled' | 'dead';

export type ConsumerStatus = { name: string; pending: number; idleMs: number; state: ConsumerState };

export type GroupStatus = {
  name: string;
  /**
   * Entries after the group's last-delivered id, counted in Redis up to a cap (not XINFO's `lag`,
   * which an AOF reload leaves nil or too large). null only where no count was made.
   */
  lag: number | null;
  /** The count stopped at its cap: the lag is at least `lag`. */
  lagCapped?: boolean;
  /** Entries delivered but not yet acknowledged. */
  pending: number;
  oldestPendingAgeMs: number | null;
  consumers: number;
  /** Each consumer and its state; present when the status was asked for with a claim timeout. */
  consumerStates?: ConsumerStatus[];
};

/** `streamLength` and each group's figures count both lanes; `lanes` gives each lane's length. */
export type TenantStatus = {
  tenant: string;
  streamLength: number;
  lanes: { normal: number; priority: number };
  dlqLength: number;
  groups: GroupStatus[];
};

type LaneStatus = { length: number; dlqLength: number; groups: GroupStatus[] };

export type StatusOptions = {
  now?: number;
  /** Stop counting a group's undelivered entries here (the count runs in Redis, one entry at a time). */
  lagCap?: number;
  /** Classify consumers: idle past this with no heartbeat is stalled or dead. */
  claimIdleMs?: number;
  /** Consumer heartbeats (name → ms), read once for many tenants; fetched when absent. */
  heartbeats?: ReadonlyMap<string, number>;
};

const defaultLagCap = 10_000;

/** Replies of one pipeline, failing on the first error unless `tolerate` accepts it. */
async function run(
  pipeline: ReturnType<RedisClient['pipeline']>,
  tolerate: (error: Error) => boolean = () => false,
): Promise<unknown[]> {
  const replies = (await pipeline.exec()) ?? [];
  return replies.map(([error, value]) => {
    if (error && !tolerate(error)) throw error;
    return error ? undefined : value;
  });
}

/** Every runner's last heartbeat (see StreamRunner), by consumer name. */
async function consumerHeartbeats(redis: RedisClient, keys: RedisKeys): Promise<Map<string, number>> {
  const flat = await redis.zrange(keys.consumersSeen, 0, -1, 'WITHSCORES');
  const beats = new Map<string, number>();
  for (let i = 0; i + 1 < flat.length; i += 2) beats.set(flat[i]!, Number(flat[i + 1]));
  return beats;
}

/**
 * Length, dead letters and per-group progress of a tenant's two lanes, each in two pipelined round
 * trips, the lanes at once (all of a tenant's keys share its hash slot). Reads only Redis.
 */
export async function tenantStatus(
  redis: RedisClient,
  keys: RedisKeys,
  tenant: string,
  options: StatusOptions = {},
): Promise<TenantStatus> {
  const heartbeats =
    options.claimIdleMs !== undefined ? (options.heartbeats ?? (await consumerHeartbeats(redis, keys))) : undefined;
  const laneOptions = { ...options, ...(heartbeats ? { heartbeats } : {}) };
  const [normal, priority] = await Promise.all([
    laneStatus(redis, keys, keys.events(tenant), keys.dlq(tenant), laneOptions),
    laneStatus(redis, keys, keys.priorityEvents(tenant), keys.dlq(tenant), laneOptions),
  ]);
  const byName = new Map<string, GroupStatus>();
  for (const group of [...normal.groups, ...priority.groups]) {
    const other = byName.get(group.name);
    byName.set(group.name, other ? combineGroups(other, group) : group);
  }
  return {
    tenant,
    streamLength: normal.length + priority.length,
    lanes: { normal: normal.length, priority: priority.length },
    dlqLength: normal.dlqLength,
    groups: [...byName.values()].sort((a, b) => a.name.localeCompare(b.name)),
  };
}

/** A group's figures over both lanes: counts add up, the oldest entry and the slowest consumer show. */
function combineGroups(a: GroupStatus, b: GroupStatus): GroupStatus {
  const lag = a.lag === null || b.lag === null ? null : a.lag + b.lag;
  const ages = [a.oldestPendingAgeMs, b.oldestPendingAgeMs].filter((age) => age !== null);
  const group: GroupStatus = {
    name: a.name,
    lag,
    pending: a.pending + b.pending,
    oldestPendingAgeMs: ages.length > 0 ? Math.max(...ages) : null,
    consumers: Math.max(a.consumers, b.consumers),
  };
  if (a.lagCapped || b.lagCapped) group.lagCapped = true;
  if (a.consumerStates || b.consumerStates) {
    const consumers = new Map<string, ConsumerStatus>();
    for (const consumer of [...(a.consumerStates ?? []), ...(b.consumerStates ?? [])]) {
      const seen = consumers.get(consumer.name);
      if (!seen) consumers.set(consumer.name, { ...consumer });
      else {
        const pending = seen.pending + consumer.pending;
        const state: ConsumerState =
          seen.state === 'live' || consumer.state === 'live' ? 'live' : pending > 0 ? 'stalled' : 'dead';
        consumers.set(consumer.name, {
          name: consumer.name,
          pending,
          idleMs: Math.min(seen.idleMs, consumer.idleMs),
          state,
        });
      }
    }
    group.consumerStates = [...consumers.values()];
  }
  return group;
}

async function laneStatus(
  redis: RedisClient,
  keys: RedisKeys,
  stream: string,
  dlq: string,
  options: StatusOptions,
): Promise<LaneStatus> {
  const now = options.now ?? Date.now();
  const [streamLength, dlqLength, rawGroups] = await run(
    redis.pipeline().xlen(stream).xlen(dlq).xinfo('GROUPS', stream),
    (error) => error.message.includes('no such key'),
  );
  const infos = infoRecords('XINFO GROUPS', rawGroups ?? []);
  if (infos.length === 0) return { length: Number(streamLength), dlqLength: Number(dlqLength), groups: [] };

  const classify = options.claimIdleMs !== undefined;
  const heartbeats = classify ? (options.heartbeats ?? (await consumerHeartbeats(redis, keys))) : undefined;
  const lagCap = options.lagCap ?? defaultLagCap;
  const byLastId = [...infos].sort((a, b) =>
    compareStreamIds(String(b['last-delivered-id']), String(a['last-delivered-id'])),
  );
  const second = redis.pipeline();
  queueCountAfter(
    second,
    stream,
    lagCap,
    byLastId.map((info) => String(info['last-delivered-id'])),
  );
  for (const info of infos) {
    if (Number(info.pending ?? 0) > 0) second.xpending(stream, String(info.name));
    if (classify) second.xinfo('CONSUMERS', stream, String(info.name));
  }
  const [counts, ...rest] = await run(second);
  const lagCounts = parseCountAfterReply(counts, byLastId.length);
  const lagOf = new Map(byLastId.map((info, index) => [String(info.name), lagCounts[index] ?? 0]));

  const groups = infos.map((info): GroupStatus => {
    const name = String(info.name);
    const pending = Number(info.pending ?? 0);
    let oldestPendingAgeMs: number | null = null;
    if (pending > 0) {
      const { oldestId } = pendingSummary(rest.shift());
      if (oldestId) oldestPendingAgeMs = Math.max(0, now - Number(oldestId.split('-')[0]));
    }
    const lag = lagOf.get(name) ?? 0;
    const group: GroupStatus = { name, lag, pending, oldestPendingAgeMs, consumers: Number(info.consumers ?? 0) };
    if (lag >= lagCap) group.lagCapped = true;
    if (classify)
      group.consumerStates = infoRecords('XINFO CONSUMERS', rest.shift() ?? []).map((info) =>
        consumerStatus(info, now, options.claimIdleMs!, heartbeats!),
      );
    return group;
  });
  return { length: Number(streamLength), dlqLength: Number(dlqLength), groups };
}

function consumerStatus(
  info: Record<string, unknown>,
  now: number,
  claimIdleMs: number,
  heartbeats: ReadonlyMap<string, number>,
): ConsumerStatus {
  const name = String(info.name);
  const pending = Number(info.pending ?? 0);
  const idleMs = Number(info.idle ?? 0);
  // Redis refreshes `idle` only when a read returns entries or a claim runs; a live consumer of a
  // quiet stream is known by its heartbeat instead.
  const beat = heartbeats.get(name);
  const silentMs = Math.min(idleMs, beat === undefined ? Infinity : Math.max(0, now - beat));
  const state: ConsumerState = silentMs <= claimIdleMs ? 'live' : pending > 0 ? 'stalled' : 'dead';
  return { name, pending, idleMs: silentMs, state };
}

/** Every tenant's status, the tenants' pipelines in flight together; heartbeats are read once. */
export async function allTenantsStatus(
  redis: RedisClient,
  keys: RedisKeys,
  tenants: readonly string[],
  options: StatusOptions = {},
): Promise<TenantStatus[]> {
  const heartbeats =
    options.claimIdleMs !== undefined ? (options.heartbeats ?? (await consumerHeartbeats(redis, keys))) : undefined;
  return Promise.all(
    tenants.map((tenant) => tenantStatus(redis, keys, tenant, { ...options, ...(heartbeats ? { heartbeats } : {}) })),
  );
}

/** Entries not yet processed by the tenant's slowest group. */
export function backlogOf(status: TenantStatus): number {
  return Math.max(0, ...status.groups.map((group) => (group.lag ?? 0) + group.pending));
}
