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
    /** An acknowledgement sent with a read failed: those entries stay pending and are taken over later. */
    private readonly ackFailed: (stream: string, count: number, error: unknown) => void = () => undefined,
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
    acks: ReadonlyMap<string, readonly string[]> = new Map(),
  ): Promise<[string, StreamEntry[]][] | null> {
    const counts = laneCounts(count, share);
    const urgent =
      lanes.priority.length > 0 ? ((await this.read(lanes.priority, counts.priority, 0, acks)) ?? []) : undefined;
    if (!urgent?.length)
      return this.read([...lanes.priority, ...lanes.normal], count, blockMs, urgent ? new Map() : acks);
    if (lanes.normal.length === 0) return urgent;
    const most = Math.max(...urgent.map(([, entries]) => entries.length));
    const normal = (await this.read(lanes.normal, counts.normalAfter(most), 0)) ?? [];
    return [...urgent, ...normal];
  }

  /**
   * One read of `streams`; `blockMs` 0 does not block. `acks` (entries to acknowledge, by stream) go in
   * the same round trip, before the read; on Redis Cluster the caller acknowledges them itself.
   */
  async read(
    streams: readonly string[],
    count: number,
    blockMs: number,
    acks: ReadonlyMap<string, readonly string[]> = new Map(),
  ): Promise<[string, StreamEntry[]][] | null> {
    const args = (keys: readonly string[], block: (string | number)[]) => [
      'GROUP',
      this.group,
      this.consumer,
      'COUNT',
      count,
      ...block,
      'STREAMS',
      ...keys,
      ...keys.map(() => '>'),
    ];
    const read = (keys: readonly string[], block: (string | number)[]) =>
      this.client.call('XREADGROUP', ...args(keys, block)) as Promise<[string, StreamEntry[]][] | null>;
    if (!(this.client instanceof Cluster)) {
      const block = blockMs > 0 ? ['BLOCK', blockMs] : [];
      if (acks.size === 0) return read(streams, block);
      return this.acknowledgeAndRead(acks, args(streams, block));
    }
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

  /** The acknowledgements, then the read, in one pipeline: a failed acknowledgement is reported, a failed read thrown. */
  private async acknowledgeAndRead(
    acks: ReadonlyMap<string, readonly string[]>,
    readArgs: (string | number)[],
  ): Promise<[string, StreamEntry[]][] | null> {
    const pipeline = this.client.pipeline();
    for (const [stream, ids] of acks) pipeline.xack(stream, this.group, ...ids);
    pipeline.call('XREADGROUP', ...readArgs);
    const replies = (await pipeline.exec()) ?? [];
    [...acks].forEach(([stream, ids], index) => {
      const [error] = replies[index] ?? [new Error('no reply')];
      if (error) this.ackFailed(stream, ids.length, error);
    });
    const [error, reply] = replies[acks.size] ?? [new Error('no reply'), null];
    if (error) throw error;
    return reply as [string, StreamEntry[]][] | null;
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
