import { StreamdeskError } from '../errors.js';
import { toDelivery, type Delivery } from './delivery.js';
import type { RedisKeys } from './keys.js';
import type { RedisClient } from './redis.js';
import { readRetryRecords } from './retry-records.js';
import { touch } from './scripts.js';

/**
 * Takeover, both ways: this consumer claims entries that sat idle past the claim timeout on a
 * consumer that died or hung, and keeps its own entries fresh so that it is not taken for one.
 */

export type Claimer = Readonly<{ redis: RedisClient; keys: RedisKeys; group: string; consumer: string }>;

function malformed(command: string, reply: unknown): never {
  throw new StreamdeskError('INTERNAL', `${command} answered ${JSON.stringify(reply)}`);
}

/** XAUTOCLAIM's claimed entries ([next cursor, entries, deleted ids]); a deleted entry's fields are null. */
function claimedEntries(reply: unknown): [id: string, fields: string[] | null][] {
  if (!Array.isArray(reply) || !Array.isArray(reply[1])) return malformed('XAUTOCLAIM', reply);
  return (reply[1] as unknown[]).map((entry) => {
    if (!Array.isArray(entry) || typeof entry[0] !== 'string') return malformed('XAUTOCLAIM', reply);
    const fields: unknown = entry[1];
    if (fields === null) return [entry[0], null];
    if (!Array.isArray(fields) || !fields.every((field) => typeof field === 'string'))
      return malformed('XAUTOCLAIM', reply);
    return [entry[0], fields];
  });
}

/** XPENDING's extended form ([id, consumer, idle, deliveries] per entry): deliveries by entry id. */
function deliveryCounts(reply: unknown): Map<string, number> {
  if (!Array.isArray(reply)) return malformed('XPENDING', reply);
  return new Map(
    reply.map((entry: unknown) =>
      Array.isArray(entry) && typeof entry[0] === 'string'
        ? [entry[0], Number(entry[3])]
        : malformed('XPENDING', reply),
    ),
  );
}

/**
 * Claims up to `max` entries of `stream` idle for `claimIdleMs`. Entries still held here (another
 * consumer had taken them, and now this one has them back) are marked ours again; the others are
 * returned as new deliveries, with their failures so far and the times Redis handed them out.
 */
export async function claimIdle(
  claimer: Claimer,
  stream: string,
  claimIdleMs: number,
  max: number,
  held: ReadonlyMap<string, Delivery> | undefined,
): Promise<Delivery[]> {
  const { redis, keys, group, consumer } = claimer;
  const claimed = claimedEntries(await redis.xautoclaim(stream, group, consumer, claimIdleMs, '0-0', 'COUNT', max));
  for (const [id] of claimed) {
    const delivery = held?.get(id);
    if (delivery) delivery.takenOver = false;
  }
  const entries = claimed.filter((entry): entry is [string, string[]] => entry[1] !== null && !held?.has(entry[0]));
  if (entries.length === 0) return [];
  const ids = entries.map(([id]) => id);
  const [records, pending] = await Promise.all([
    readRetryRecords(redis, keys, keys.tenantOf(stream), group, ids),
    redis.xpending(stream, group, ids[0]!, ids.at(-1)!, ids.length * 2, consumer).then(deliveryCounts),
  ]);
  return entries.map(([id, fields], index) =>
    toDelivery(keys, stream, { id, fields, deliveries: pending.get(id) ?? 1, retry: records[index] }),
  );
}

/** Keeps the entries held of `stream` fresh; marks, and returns, those another consumer has taken over. */
export async function touchHeld(
  claimer: Claimer,
  stream: string,
  held: ReadonlyMap<string, Delivery>,
): Promise<string[]> {
  const ids = [...held.values()].filter((delivery) => !delivery.takenOver).map((delivery) => delivery.streamId);
  if (ids.length === 0) return [];
  const lost = await touch(claimer.redis, stream, claimer.group, claimer.consumer, ids);
  for (const id of lost) {
    const delivery = held.get(id);
    if (delivery) delivery.takenOver = true;
  }
  return lost;
}
