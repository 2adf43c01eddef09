import { setTimeout as sleep } from 'node:timers/promises';
import { Cluster } from 'ioredis';
import { eventTypes, type EventType } from '../events.js';
import { redriveForField } from './dlq.js';
import { hashSlot } from './keys.js';
import type { RedisClient } from './redis.js';

export type StreamEntry = [id: string, fields: string[] | null];

const knownEventTypes = new Set<string>(eventTypes);

/**
 * Reads new entries for one consumer of a group from many tenant streams at once. One XREADGROUP
 * names every stream: COUNT is per stream, so each tenant gets an equal share. Redis Cluster
 * refuses a multi-key read across slots, so there the streams are read per slot, without blocking
 * (one connection per node cannot hold several blocking reads), polling more slowly while idle.
 */
export class GroupReader {
  private clusterPollMs = 5;

  constructor(
    private readonly client: RedisClient,
    private readonly group: string,
    private readonly consumer: string,
  ) {}

  async read(streams: readonly string[], count: number, blockMs: number): Promise<[string, StreamEntry[]][] | null> {
    const read = (keys: readonly string[], block: (string | number)[]) =>
      this.client.call('XREADGROUP', 'GROUP', this.group, this.consumer, 'COUNT', count, ...block, 'STREAMS', ...keys, ...keys.map(() => '>')) as Promise<[string, StreamEntry[]][] | null>;
    if (!(this.client instanceof Cluster)) return read(streams, ['BLOCK', blockMs]);
    const bySlot = new Map<number, string[]>();
    for (const stream of streams) bySlot.set(hashSlot(stream), [...(bySlot.get(hashSlot(stream)) ?? []), stream]);
    const replies = (await Promise.all([...bySlot.values()].map((keys) => read(keys, [])))).flatMap((reply) => reply ?? []);
    if (replies.length > 0) {
      this.clusterPollMs = 5;
      return replies;
    }
    await sleep(this.clusterPollMs);
    this.clusterPollMs = Math.min(blockMs, this.clusterPollMs * 2);
    return null;
  }
}

/**
 * Whether a group can acknowledge an entry without decoding or settling it: it was redriven for
 * another group, or it is an event of a type the group does not handle. (Entries whose type is not
 * a known event type take the normal path and are dead-lettered as invalid.)
 */
export function isForOtherGroups(fields: readonly string[], group: string, handles: readonly EventType[] | 'all'): boolean {
  let forOthers = false;
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const name = fields[i];
    if (name === redriveForField && fields[i + 1] !== group) return true;
    if (name === 'type' && handles !== 'all') forOthers = knownEventTypes.has(fields[i + 1]!) && !(handles as readonly string[]).includes(fields[i + 1]!);
  }
  return forOthers;
}
