import type { RedisKeys } from './keys.js';
import { toRecord } from './reply.js';
import type { RedisClient } from './redis.js';

export type GroupStatus = {
  name: string;
  /** Entries not yet delivered to the group (null when Redis can't tell, after deletions). */
  lag: number | null;
  /** Entries delivered but not yet acknowledged. */
  pending: number;
  oldestPendingAgeMs: number | null;
  consumers: number;
};

export type TenantStatus = { tenant: string; streamLength: number; dlqLength: number; groups: GroupStatus[] };

/** Length, dead letters and per-group progress of one tenant's stream. */
export async function tenantStatus(redis: RedisClient, keys: RedisKeys, tenant: string, now = Date.now()): Promise<TenantStatus> {
  const stream = keys.events(tenant);
  const [streamLength, dlqLength, rawGroups] = await Promise.all([
    redis.xlen(stream),
    redis.xlen(keys.dlq(tenant)),
    redis.xinfo('GROUPS', stream).catch((error: unknown) => {
      if (String(error).includes('no such key')) return [];
      throw error;
    }) as Promise<unknown[][]>,
  ]);
  const groups = await Promise.all(
    rawGroups.map(async (raw) => {
      const info = toRecord(raw);
      const name = String(info.name);
      const pending = Number(info.pending ?? 0);
      let oldestPendingAgeMs: number | null = null;
      if (pending > 0) {
        const [, oldestId] = (await redis.xpending(stream, name)) as [number, string | null, string | null, unknown];
        if (oldestId) oldestPendingAgeMs = Math.max(0, now - Number(oldestId.split('-')[0]));
      }
      return {
        name,
        lag: info.lag === null || info.lag === undefined ? null : Number(info.lag),
        pending,
        oldestPendingAgeMs,
        consumers: Number(info.consumers ?? 0),
      };
    }),
  );
  return { tenant, streamLength, dlqLength, groups: groups.sort((a, b) => a.name.localeCompare(b.name)) };
}

/** Entries not yet processed by the tenant's slowest group. */
export function backlogOf(status: TenantStatus): number {
  return Math.max(0, ...status.groups.map((group) => (group.lag ?? 0) + group.pending));
}
