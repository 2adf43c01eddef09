import type { Logger } from 'pino';
import type { RedisKeys } from './keys.js';
import type { RedisClient } from './redis.js';
import { infoRecords } from './reply.js';
import { releaseConsumer } from './scripts.js';

/**
 * A runner's upkeep of its group and of itself: the group on each tenant's lanes, the heartbeat
 * `streamdesk status` reads, and removing consumers long dead (and itself on a clean stop).
 */

export type Member = Readonly<{ redis: RedisClient; keys: RedisKeys; group: string; consumer: string }>;

/** Creates the group on both lanes of a tenant, unless it exists. */
export async function ensureGroup(member: Member, tenant: string): Promise<void> {
  for (const stream of member.keys.lanes(tenant)) {
    try {
      // From the start of the stream: a group created after events arrived still sees them all.
      await member.redis.xgroup('CREATE', stream, member.group, '0', 'MKSTREAM');
    } catch (error) {
      if (!String(error).includes('BUSYGROUP')) throw error;
    }
  }
}

/**
 * Brings `tenants` in line with the registry's id set: new tenants (their group created) are added,
 * deleted ones dropped, so that a purged stream is not recreated by reading it.
 */
export async function refreshTenants(member: Member, tenants: Set<string>, log: Logger): Promise<void> {
  const ids = await member.redis.smembers(member.keys.tenantIds);
  const registered = new Set(ids);
  for (const tenant of tenants) if (!registered.has(tenant)) tenants.delete(tenant);
  for (const tenant of ids) {
    if (tenants.has(tenant)) continue;
    await ensureGroup(member, tenant);
    tenants.add(tenant);
    log.debug({ group: member.group, tenant }, 'consuming tenant');
  }
}

/** Tells `streamdesk status` this consumer's process is alive, even while its streams are quiet. */
export async function heartbeat(member: Member): Promise<void> {
  await member.redis.zadd(member.keys.consumersSeen, Date.now(), member.consumer);
}

/** Removes consumers of the group idle past `idleMs` with nothing pending, and heartbeats as old. */
export async function removeDeadConsumers(member: Member, tenants: Iterable<string>, idleMs: number): Promise<void> {
  const { redis, keys, group } = member;
  await redis.zremrangebyscore(keys.consumersSeen, '-inf', Date.now() - idleMs);
  for (const stream of [...tenants].flatMap((tenant) => keys.lanes(tenant))) {
    for (const consumer of infoRecords('XINFO CONSUMERS', await redis.xinfo('CONSUMERS', stream, group))) {
      const name = typeof consumer.name === 'string' ? consumer.name : undefined;
      if (name && name !== member.consumer && consumer.pending === 0 && Number(consumer.idle) > idleMs)
        await releaseConsumer(redis, stream, group, name);
    }
  }
}

/** Leaves the group on every lane where this consumer holds nothing, and stops heartbeating. */
export async function leaveGroup(member: Member, tenants: Iterable<string>, log: Logger): Promise<void> {
  for (const tenant of tenants) {
    for (const stream of member.keys.lanes(tenant)) {
      await releaseConsumer(member.redis, stream, member.group, member.consumer).catch((error: unknown) =>
        log.warn({ err: error, tenant }, 'could not leave the consumer group'),
      );
    }
  }
  await member.redis.zrem(member.keys.consumersSeen, member.consumer).catch(() => undefined);
}
