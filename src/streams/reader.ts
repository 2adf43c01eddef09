import { setTimeout as sleep } from 'node:timers/promises';
import { Cluster } from 'ioredis';
import { eventTypes, type EventType } from '../events.js';
import { redriveForField } from './dlq.js';
import { hashSlot } from './keys.js';
import { laneCounts } from './lanes.js';
import type { RedisClient } from './redis.js';

export type StreamEntry = [id: string, fields: string[] | null];

const knownEventTypes = new Set<string>(eventTypes);

/**
 * Reads new entries for one consumer of a group from many tenant streams at once. One XREADGROUP
 * names every stream: COUNT is per stream, so each tenant gets an equal share. With lanes, the
 * priority lanes are read first, then the normal lanes with what is left (see `laneCounts`). Redis Cluster
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

  /**
   * Asks every priority lane for its share of `count` without blocking, then the normal lanes for the
   * rest; when no priority lane had anything, one read blocks on both lanes, so an urgent entry that
   * arrives while the consumer waits is read at once.
   */
  async readLanes(
    lanes: { normal: readonly string[]; priority: readonly string[] },
    count: number,
    share: number,
    blockMs: number,
  ): Promise<[string, StreamEntry[]][] | null> {
    const counts = laneCounts(count, share);
    const urgent = lanes.priority.length > 0 ? ((await this.read(lanes.priority, counts.priority, 0)) ?? []) : [];
    if (urgent.length === 0) return this.read([...lanes.priority, ...lanes.normal], count, blockMs);
    if (lanes.normal.length === 0) return urgent;
    const most = Math.max(...urgent.map(([, entries]) => entries.length));
    const normal = (await this.read(lanes.normal, counts.normalAfter(most), 0)) ?? [];
    return [...urgent, ...normal];
  }

  /** One read of `streams`; `blockMs` 0 does not block. */
  async read(streams: readonly string[], count: number, blockMs: number): Promise<[string, StreamEntry[]][] | null> {
    const read = (keys: readonly string[], block: (string | number)[]) =>
      this.client.call(
        'XREADGROUP',
        'GROUP',
        this.group,
        this.consumer,
        'COUNT',
        count,
        ...block,
        'STREAMS',
        ...keys,
        ...keys.map(() => '>'),
      ) as Promise<[string, StreamEntry[]][] | null>;
    if (!(this.client instanceof Cluster)) return read(streams, blockMs > 0 ? ['BLOCK', blockMs] : []);
    const bySlot = new Map<number, string[]>();
    for (const stream of streams) bySlot.set(hashSlot(stream), [...(bySlot.get(hashSlot(stream)) ?? []), stream]);
    const replies = (await Promise.all([...bySlot.values()].map((keys) => read(keys, [])))).flatMap(
      (reply) => reply ?? [],
    );
    if (replies.length > 0) {
      this.clusterPollMs = 5;
      return replies;
    }
    if (blockMs <= 0) return null;
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
export function isForOtherGroups(
  fields: readonly string[],
  group: string,
  handles: readonly EventType[] | 'all',
): boolean {
  let forOthers = false;
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const name = fields[i];
    if (name === redriveForField && fields[i + 1] !== group) return true;
    if (name === 'type' && handles !== 'all')
      forOthers = knownEventTypes.has(fields[i + 1]!) && !(handles as readonly string[]).includes(fields[i + 1]!);
  }
  return forOthers;
}
