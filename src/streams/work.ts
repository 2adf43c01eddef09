import { setTimeout as sleep } from 'node:timers/promises';
import { Cluster, type ChainableCommander } from 'ioredis';
import type { RedisKeys } from './keys.js';
import type { RedisClient } from './redis.js';
import {
  appendUnlessSeen,
  markWork as markWorkScript,
  queueMarkWork as queueMarkWorkScript,
  workSince,
  type IngestInput,
  type IngestOutcome,
  type WorkKeys,
  type WorkSince,
} from './scripts.js';

/**
 * Which tenant streams have work, so a read names only those and shares the free capacity among
 * them. Every append marks its stream (work-mark.lua: the tenant's lane, `<tenant>:normal` or
 * `<tenant>:priority`, gets a sequence number in the sorted set `sd:work`, and the one-entry bell
 * stream an entry; a bare tenant id marks both lanes). A mark per lane keeps a busy normal lane from
 * sending readers to the priority lane too. Each runner keeps its own set of streams
 * with work: it adds the streams marked past its cursor, and drops a stream when a read after that
 * look (`>`: past its group's last-delivered id) returned nothing for it. An append after such a
 * read gets a sequence number past the cursor, so no wake-up is lost; each group keeps its own
 * set, so every group reads every entry. While no stream has work the runner blocks on the bell.
 *
 * Entries appended without a mark (by hand, by an older version) are found by a full read every
 * `fullReadMs`. On Redis Cluster the mark lives in another slot than the tenant's keys, so there is
 * none: every stream counts as having work and the reader reads them all, as it always did.
 */
/** How often a runner busy with streams that have work looks for new marks. */
const lookEveryMs = 5;

export class StreamsWithWork {
  readonly enabled: boolean;
  private readonly streams = new Set<string>();
  private readonly known = new Set<string>();
  private cursor = 0;
  private lookedAt = 0;
  private bell = '0-0';
  private fullReadAt: number;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
    private readonly fullReadMs: number,
  ) {
    this.enabled = !(redis instanceof Cluster);
    this.fullReadAt = Date.now() + fullReadMs;
  }

  has(stream: string): boolean {
    return !this.enabled || this.streams.has(stream);
  }

  /** No stream of a consumed tenant is known to have work: the reader may block on the bell. */
  get idle(): boolean {
    return this.enabled && this.streams.size === 0;
  }

  /**
   * Follows `tenants` (a new tenant's lanes count as having work, a removed one's are dropped) and
   * adds the tenants marked since the last look; every `fullReadMs`, all of them.
   */
  async refresh(tenants: ReadonlySet<string>): Promise<void> {
    if (!this.enabled) return;
    for (const tenant of this.known) if (!tenants.has(tenant)) this.forget(tenant);
    for (const tenant of tenants) if (!this.known.has(tenant)) this.mark(tenant);
    if (Date.now() >= this.fullReadAt) {
      this.fullReadAt = Date.now() + this.fullReadMs;
      for (const tenant of tenants) this.mark(tenant);
    }
    // While streams have work the reads keep the runner busy: a look per read would double its round
    // trips, so a new mark waits at most `lookEveryMs`. A runner with nothing to read always looks
    // before it blocks on the bell.
    const now = Date.now();
    if (this.streams.size > 0 && now - this.lookedAt < lookEveryMs) return;
    this.lookedAt = now;
    let reply: WorkSince;
    try {
      reply = await workSince(this.redis, workKeys(this.keys), this.cursor);
    } catch {
      // Redis is down: the read that follows fails and backs off; the cursor stays, so nothing is skipped.
      return;
    }
    const { bell, sequence, marked } = reply;
    this.bell = bell;
    if (sequence < this.cursor) for (const tenant of tenants) this.mark(tenant); // the sequence started over
    for (const mark of marked) {
      const { tenant, lane } = this.keys.parseWorkMark(mark);
      if (!tenants.has(tenant)) continue;
      if (lane) this.streams.add(this.keys.lane(tenant, lane));
      else this.mark(tenant);
    }
    this.cursor = sequence;
  }

  /** After a read of `named` streams: those the reply left out had nothing new for this group. */
  afterRead(named: readonly string[], reply: readonly (readonly [stream: string, entries: unknown])[] | null): void {
    if (!this.enabled) return;
    const answered = new Set((reply ?? []).map(([stream]) => stream));
    for (const stream of named) if (!answered.has(stream)) this.streams.delete(stream);
  }

  /** Blocks until any tenant is marked after the last look, or `blockMs` passes. */
  async waitForWork(blocking: RedisClient, blockMs: number): Promise<void> {
    try {
      await blocking.xread('BLOCK', blockMs, 'STREAMS', this.keys.workBell, this.bell);
    } catch {
      // Redis is down: wait a little; the next read reports the outage and backs off.
      await sleep(Math.min(blockMs, 200));
    }
  }

  private mark(tenant: string): void {
    this.known.add(tenant);
    for (const stream of this.keys.lanes(tenant)) this.streams.add(stream);
  }

  private forget(tenant: string): void {
    this.known.delete(tenant);
    for (const stream of this.keys.lanes(tenant)) this.streams.delete(stream);
  }
}

/**
 * Marks streams as having new entries (mark-work.lua): `marks` are `keys.workMark(tenant, lane)`, or
 * bare tenant ids for both lanes. Call it after the append, never before. On Redis Cluster it does
 * nothing: there readers read every tenant (see `StreamsWithWork`).
 */
export async function markWork(redis: RedisClient, keys: RedisKeys, marks: readonly string[]): Promise<void> {
  if (redis instanceof Cluster || marks.length === 0) return;
  await markWorkScript(redis, workKeys(keys), marks);
}

/**
 * Queues work marks (as `markWork` takes them) on `pipeline`, after the appends queued before it (a pipeline runs in
 * order on one connection). False on Redis Cluster, where there are no marks and nothing is queued.
 */
export function queueMarkWork(
  pipeline: ChainableCommander,
  redis: RedisClient,
  keys: RedisKeys,
  marks: readonly string[],
): boolean {
  if (redis instanceof Cluster || marks.length === 0) return false;
  queueMarkWorkScript(pipeline, workKeys(keys), marks);
  return true;
}

/**
 * ingest.lua's append (unless seen) and, in the same script, the lane's work mark once the entry
 * is stored: one round trip. On Redis Cluster there is no mark (see `StreamsWithWork`).
 */
export async function appendAndMarkWork(
  redis: RedisClient,
  keys: RedisKeys,
  tenant: string,
  input: IngestInput,
): Promise<IngestOutcome> {
  if (redis instanceof Cluster) return appendUnlessSeen(redis, input);
  return appendUnlessSeen(redis, input, {
    keys: workKeys(keys),
    mark: keys.workMark(tenant, keys.laneOf(input.stream)),
  });
}

const workKeys = (keys: RedisKeys): WorkKeys => ({
  tenants: keys.workTenants,
  sequence: keys.workSequence,
  bell: keys.workBell,
});
