import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { StreamdeskError, isOutage, redactCredentials, toStreamdeskError } from '../errors.js';
import { decodeEvent, encodeEvent, type TicketEvent } from '../events.js';
import { deadLetterFields } from './dlq.js';
import { toRecord } from './reply.js';
import { failedEvent, followOnEvent } from './follow-on.js';
import type { RedisKeys } from './keys.js';
import { laneKey, laneOfKey, otherLaneKey, type Lane } from './lanes.js';
import { backoffMs, type GroupProcessor, type Outcome, type RetryPolicy } from './processor.js';
import { GroupReader, isForOtherGroups, type StreamEntry } from './reader.js';
import type { RedisClient } from './redis.js';
import { noopObserver, type RunnerObserver } from './observer.js';
import { markWork, StreamsWithWork } from './work.js';

export type RunnerOptions = {
  /** Shared connection for commands. */
  redis: RedisClient;
  /** A connection of this runner's own: XREADGROUP BLOCK holds it. */
  blockingRedis: RedisClient;
  keys: RedisKeys;
  processor: GroupProcessor;
  /** Defaults; the processor's own `retry` overrides them. */
  retry: RetryPolicy;
  /** How long follow-on event ids are remembered for de-duplication. */
  emittedTtlSeconds: number;
  logger: Logger;
  observer?: RunnerObserver;
  consumerName?: string;
  blockMs?: number;
  batchSize?: number;
  tenantRefreshMs?: number;
  /** Consumers idle this long with nothing pending are removed from the group. */
  deadConsumerIdleMs?: number;
  /** Share of each read a tenant's priority lane may take (see lanes.ts `laneCounts`). */
  priorityShare?: number;
  /** How often every tenant's streams are read, marked or not (see work.ts). */
  fullReadMs?: number;
};

type Delivery = {
  tenant: string;
  /** The lane's stream key it was read from: a batch holds entries of one stream. */
  stream: string;
  lane: Lane;
  streamId: string;
  fields: string[];
  event: TicketEvent | undefined;
  decodeError: StreamdeskError | undefined;
  failures: number;
  firstFailedAt: number | undefined;
  /** Times Redis handed this entry out (from the pending entries list). */
  deliveries: number;
  /** Consecutive runs that failed because Redis or Postgres was down; they do not count as attempts. */
  outages: number;
  /** The wait a peer asked for with its last failure (a 429's Retry-After). */
  retryAfterMs: number | undefined;
  /** Another consumer owns it now (reported once; its late result will be dropped). */
  takenOver?: boolean;
};

type RetryRecord = { failures: number; firstFailedAt: number; lastError: string };

export function consumerName(): string {
  return `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
}

/**
 * Drives one consumer group over every tenant's stream: discovers tenants, reads them fairly,
 * runs the processor, emits follow-on events and acknowledges in one step, retries with backoff,
 * dead-letters, takes over entries of dead consumers and keeps its own entries from looking dead.
 */
export class StreamRunner {
  readonly group: string;
  readonly consumer: string;
  private readonly options: Required<Omit<RunnerOptions, 'consumerName'>>;
  private readonly policy: RetryPolicy;
  private readonly tenants = new Set<string>();
  /** By stream key (a tenant's lane). */
  private readonly held = new Map<string, Map<string, Delivery>>();
  private readonly streamQueues = new Map<string, Delivery[]>();
  private readonly drainingStreams = new Set<string>();
  private readonly backingOffStreams = new Set<string>();
  private readonly tasks = new Set<Promise<void>>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly shutdown = new AbortController();
  private inflight = 0;
  private running = false;
  private readLoop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private readonly reader: GroupReader;
  private readonly work: StreamsWithWork;

  constructor(options: RunnerOptions) {
    this.group = options.processor.group;
    this.consumer = options.consumerName ?? consumerName();
    this.options = {
      observer: noopObserver,
      blockMs: 1_000,
      batchSize: 100,
      tenantRefreshMs: 1_000,
      deadConsumerIdleMs: 3_600_000,
      priorityShare: 0.8,
      fullReadMs: 5_000,
      ...options,
    };
    this.policy = { ...options.retry, ...options.processor.retry };
    this.reader = new GroupReader(options.blockingRedis, this.group, this.consumer);
    this.work = new StreamsWithWork(options.redis, options.keys, this.options.fullReadMs);
  }

  get log(): Logger {
    return this.options.logger;
  }

  async start(): Promise<void> {
    this.running = true;
    await this.heartbeat();
    await this.refreshTenants();
    this.readLoop = this.read();
    const every = (ms: number, work: () => Promise<void>) => {
      const tick = async () => {
        if (!this.running) return;
        await work().catch((error: unknown) =>
          this.log.warn({ err: error, group: this.group }, 'runner maintenance failed'),
        );
        if (this.running) this.timers.add(setTimeout(() => void tick(), ms).unref());
      };
      this.timers.add(setTimeout(() => void tick(), ms).unref());
    };
    every(this.options.tenantRefreshMs, () => this.refreshTenants());
    every(Math.max(50, Math.min(5_000, Math.floor(this.policy.claimIdleMs / 2))), () => this.reclaimIdle());
    every(Math.max(50, Math.floor(this.policy.claimIdleMs / 3)), async () => {
      await this.heartbeat();
      await this.touchHeld();
    });
    every(Math.min(60_000, this.options.deadConsumerIdleMs), () => this.removeDeadConsumers());
  }

  /** Stops reading, lets in-flight work finish (up to `timeoutMs`), then leaves the group if nothing is pending. */
  async stop(timeoutMs = 10_000): Promise<void> {
    if (!this.running) return;
    this.running = false;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.wake?.();
    const deadline = sleep(timeoutMs, 'timeout', { ref: false });
    // A read that was under way when stop was called may still dispatch: wait for those tasks too.
    const finished = (async () => {
      await this.readLoop;
      while (this.tasks.size > 0) await Promise.all([...this.tasks]);
      return 'done';
    })();
    if ((await Promise.race([finished, deadline])) === 'timeout') {
      this.log.warn(
        { group: this.group, inflight: this.inflight },
        'shutdown timeout: abandoning in-flight entries; they stay pending and will be reclaimed',
      );
      this.shutdown.abort();
      await Promise.race([finished, sleep(1_000, undefined, { ref: false })]);
    }
    for (const tenant of this.tenants) {
      for (const stream of this.options.keys.lanes(tenant)) {
        await this.options.redis
          .sdReleaseConsumer(stream, this.group, this.consumer)
          .catch((error: unknown) => this.log.warn({ err: error, tenant }, 'could not leave the consumer group'));
      }
    }
    await this.options.redis.zrem(this.options.keys.consumersSeen, this.consumer).catch(() => undefined);
  }

  private async refreshTenants(): Promise<void> {
    const ids = await this.options.redis.smembers(this.options.keys.tenantIds);
    // A deleted tenant is no longer read, so its purged stream is not recreated here.
    const registered = new Set(ids);
    for (const tenant of this.tenants) if (!registered.has(tenant)) this.tenants.delete(tenant);
    for (const tenant of ids) {
      if (this.tenants.has(tenant)) continue;
      await this.ensureGroup(tenant);
      this.tenants.add(tenant);
      this.log.debug({ group: this.group, tenant }, 'consuming tenant');
    }
  }

  private async ensureGroup(tenant: string): Promise<void> {
    for (const stream of this.options.keys.lanes(tenant)) {
      try {
        // From the start of the stream: a group created after events arrived still sees them all.
        await this.options.redis.xgroup('CREATE', stream, this.group, '0', 'MKSTREAM');
      } catch (error) {
        if (!String(error).includes('BUSYGROUP')) throw error;
      }
    }
  }

  private async read(): Promise<void> {
    const { batchSize, blockMs, processor, priorityShare } = this.options;
    let outageMs = 0;
    while (this.running) {
      await this.work.refresh(this.tenants);
      if (!this.running) break;
      const free = processor.concurrency - this.inflight;
      const lanes = this.lanesToRead();
      const readable = [...new Set([...lanes.normal, ...lanes.priority].map((stream) => this.tenantOfKey(stream)))];
      if (free > 0 && this.work.idle) {
        await this.work.waitForWork(this.options.blockingRedis, blockMs);
        continue;
      }
      if (free <= 0 || readable.length === 0) {
        await new Promise<void>((resolve) => {
          this.wake = resolve;
          setTimeout(resolve, Math.min(blockMs, 200)).unref();
        });
        continue;
      }
      const count = Math.max(1, Math.min(batchSize, Math.floor(free / readable.length)));
      // A tenant left out of this read (queue full, backing off) must not wait a whole blockMs to be read again.
      // With marks, a read never blocks: streams it finds empty are dropped, then the runner waits on the bell.
      const block = this.work.enabled
        ? 0
        : lanes.normal.length + lanes.priority.length < 2 * this.tenants.size
          ? Math.min(blockMs, 10)
          : blockMs;
      let reply: [string, StreamEntry[]][] | null;
      try {
        reply = await this.reader.readLanes(lanes, count, priorityShare, block);
        this.work.afterRead([...lanes.normal, ...lanes.priority], reply);
        outageMs = 0;
      } catch (error) {
        if (!this.running) break;
        if (String(error).includes('NOGROUP')) {
          await this.refreshTenants().catch(() => undefined);
          for (const tenant of readable)
            if (this.tenants.has(tenant)) await this.ensureGroup(tenant).catch(() => undefined);
          continue;
        }
        outageMs = Math.min(2_000, Math.max(50, outageMs * 2));
        this.log.warn({ err: error, group: this.group }, 'stream read failed; retrying');
        await sleep(outageMs);
        continue;
      }
      for (const [key, entries] of reply ?? []) {
        const tenant = this.tenantOfKey(key);
        const skipped: string[] = [];
        const deliveries: Delivery[] = [];
        for (const [id, fields] of entries) {
          if (fields === null) continue;
          if (isForOtherGroups(fields, this.group, processor.handles)) skipped.push(id);
          else deliveries.push(this.toDelivery(tenant, key, id, fields, 1));
        }
        if (skipped.length > 0) this.track(this.acknowledgeSkipped(tenant, key, skipped));
        if (deliveries.length > 0) this.dispatch(deliveries);
      }
    }
  }

  /** The lanes a read may name: tenants not held back, streams with work, not backing off, queue not full. */
  private lanesToRead(): { normal: string[]; priority: string[] } {
    const { keys, batchSize, processor } = this.options;
    const tenants = [...this.tenants].filter((tenant) => !processor.holdsBack?.(tenant));
    const lanesOf = (lane: Lane) =>
      tenants
        .map((tenant) => laneKey(keys, tenant, lane))
        .filter(
          (stream) =>
            this.work.has(stream) &&
            !this.backingOffStreams.has(stream) &&
            (this.streamQueues.get(stream)?.length ?? 0) < batchSize,
        );
    return { normal: lanesOf('normal'), priority: lanesOf('priority') };
  }

  private async acknowledgeSkipped(tenant: string, stream: string, ids: string[]): Promise<void> {
    try {
      await this.options.redis.xack(stream, this.group, ...ids);
    } catch (error) {
      // They stay pending and are taken over (and skipped again) after the claim timeout.
      this.log.warn(
        { err: error, group: this.group, tenant, count: ids.length },
        'acknowledging skipped entries failed',
      );
    }
  }

  private tenantOfKey(key: string): string {
    const open = key.indexOf('{');
    return key.slice(open + 1, key.indexOf('}', open));
  }

  private toDelivery(
    tenant: string,
    stream: string,
    streamId: string,
    fields: string[],
    deliveries: number,
    retry?: RetryRecord,
  ): Delivery {
    let event: TicketEvent | undefined;
    let decodeError: StreamdeskError | undefined;
    try {
      event = decodeEvent(fields);
    } catch (error) {
      decodeError = toStreamdeskError(error);
    }
    const lane = laneOfKey(this.options.keys, tenant, stream);
    return {
      tenant,
      stream,
      lane,
      streamId,
      fields,
      event,
      decodeError,
      failures: retry?.failures ?? 0,
      firstFailedAt: retry?.firstFailedAt,
      deliveries,
      outages: 0,
      retryAfterMs: undefined,
    };
  }

  /** Deliveries of one stream (one lane of one tenant). */
  private dispatch(deliveries: Delivery[]): void {
    const { tenant, stream } = deliveries[0]!;
    let held = this.held.get(stream);
    if (!held) this.held.set(stream, (held = new Map()));
    for (const delivery of deliveries) held.set(delivery.streamId, delivery);
    this.inflight += deliveries.length;
    if (this.options.processor.ordered) {
      const queue = this.streamQueues.get(stream) ?? [];
      queue.push(...deliveries);
      this.streamQueues.set(stream, queue);
      if (!this.drainingStreams.has(stream)) this.track(this.drainStream(tenant, stream));
    } else {
      this.track(this.runUnordered(tenant, deliveries));
    }
  }

  private track(task: Promise<void>): void {
    const tracked = task.catch((error: unknown) =>
      this.log.error({ err: error, group: this.group }, 'runner task failed'),
    );
    this.tasks.add(tracked);
    void tracked.finally(() => this.tasks.delete(tracked));
  }

  private release(deliveries: readonly Delivery[]): void {
    for (const delivery of deliveries) this.held.get(delivery.stream)?.delete(delivery.streamId);
    this.inflight -= deliveries.length;
    this.wake?.();
  }

  /** Ordered groups: one batch of a tenant's lane at a time, and a failed batch is retried before anything after it. */
  private async drainStream(tenant: string, stream: string): Promise<void> {
    this.drainingStreams.add(stream);
    try {
      const queue = this.streamQueues.get(stream) ?? [];
      while (queue.length > 0 && !this.shutdown.signal.aborted) {
        let batch = queue.splice(0, this.options.batchSize);
        while (batch.length > 0) {
          const retry = await this.runBatch(tenant, batch);
          if (retry.length === 0) break;
          if (!this.running) {
            this.release([...retry, ...queue.splice(0)]);
            return;
          }
          this.backingOffStreams.add(stream);
          await this.backoff(retry);
          this.backingOffStreams.delete(stream);
          batch = retry;
        }
      }
      if (this.shutdown.signal.aborted) this.release(queue.splice(0));
    } finally {
      this.drainingStreams.delete(stream);
      this.backingOffStreams.delete(stream);
    }
  }

  /** Unordered groups: a batch settles what succeeded; each failed entry waits out its own backoff. */
  private async runUnordered(tenant: string, deliveries: Delivery[]): Promise<void> {
    let batch = deliveries;
    while (batch.length > 0) {
      const retry = await this.runBatch(tenant, batch);
      if (retry.length === 0) return;
      if (!this.running) return this.release(retry);
      await this.backoff(retry);
      batch = retry;
    }
  }

  private async backoff(retry: readonly Delivery[]): Promise<void> {
    const failures = Math.max(1, ...retry.map((delivery) => Math.max(delivery.failures, delivery.outages)));
    // A peer that said when to come back (Retry-After) is not asked again sooner.
    const delay = Math.max(backoffMs(failures, this.policy), ...retry.map((delivery) => delivery.retryAfterMs ?? 0));
    for (const delivery of retry) this.options.observer.retried(this.group, delivery.tenant, failures + 1);
    await sleep(delay, undefined, { signal: this.shutdown.signal }).catch(() => undefined);
  }

  /** Runs one batch and settles it. Returns the deliveries to retry after a backoff. */
  private async runBatch(tenant: string, deliveries: Delivery[]): Promise<Delivery[]> {
    const { processor, observer } = this.options;
    const outcomes = new Map<Delivery, Outcome>();
    const toProcess: Delivery[] = [];
    for (const delivery of deliveries) {
      if (delivery.decodeError) outcomes.set(delivery, { ok: false, error: delivery.decodeError });
      else if (delivery.deliveries > this.policy.maxAttempts + 3) {
        outcomes.set(delivery, {
          ok: false,
          error: new StreamdeskError(
            'HANDLER_FAILED',
            `Delivered ${delivery.deliveries} times without being settled: its consumers kept dying`,
            undefined,
            { retryable: false },
          ),
        });
      } else if (processor.handles !== 'all' && !processor.handles.includes(delivery.event!.type))
        outcomes.set(delivery, { ok: true, emit: [] });
      else toProcess.push(delivery);
    }
    if (toProcess.length > 0) {
      const started = performance.now();
      let results: Outcome[];
      try {
        results = await processor.process(
          toProcess.map((delivery) => ({ streamId: delivery.streamId, event: delivery.event! })),
          {
            group: this.group,
            tenant,
            signal: this.shutdown.signal,
            attempts: new Map(toProcess.map((delivery) => [delivery.event!.id, delivery.failures + 1])),
          },
        );
      } catch (error) {
        const failure = toStreamdeskError(error);
        results = toProcess.map(() => ({ ok: false, error: failure }));
      }
      observer.handled(this.group, tenant, toProcess.length, performance.now() - started);
      toProcess.forEach((delivery, index) =>
        outcomes.set(
          delivery,
          results[index] ?? { ok: false, error: new StreamdeskError('INTERNAL', 'The processor returned no outcome') },
        ),
      );
    }
    return this.settle(tenant, deliveries, outcomes);
  }

  private async settle(tenant: string, deliveries: Delivery[], outcomes: Map<Delivery, Outcome>): Promise<Delivery[]> {
    const { redis, keys, observer, logger } = this.options;
    const pipeline = redis.pipeline();
    const toSettle: { delivery: Delivery; events: TicketEvent[]; deadLetter: string[] }[] = [];
    const retry: Delivery[] = [];
    const now = Date.now();
    for (const delivery of deliveries) {
      const outcome = outcomes.get(delivery)!;
      if (outcome.ok) {
        const traceparent = outcome.traceparent ?? delivery.event!.traceparent;
        toSettle.push({
          delivery,
          events: outcome.emit.map((followOn, index) =>
            followOnEvent(delivery.event!, followOn, { group: this.group, index, traceparent }),
          ),
          deadLetter: [],
        });
        continue;
      }
      const error = outcome.error;
      // What is logged, dead-lettered or put in ticket.failed never carries credentials from a URL.
      const message = redactCredentials(error.message);
      delivery.retryAfterMs = error.retryAfterMs;
      observer.failed(this.group, tenant, error.code);
      if (isOutage(error)) {
        delivery.outages += 1;
        logger.warn(
          { group: this.group, tenant, entry: delivery.streamId, code: error.code, error: message },
          "not the entry's fault (an outage, a rate limit or a budget); will retry without using an attempt",
        );
        retry.push(delivery);
        continue;
      }
      delivery.outages = 0;
      const failures = delivery.failures + 1;
      const firstFailedAt = delivery.firstFailedAt ?? now;
      if (error.retryable && failures < this.policy.maxAttempts) {
        const record: RetryRecord = { failures, firstFailedAt, lastError: `${error.code}: ${message}` };
        pipeline.hset(keys.retryState(tenant, this.group), delivery.streamId, JSON.stringify(record));
        logger.warn(
          {
            group: this.group,
            tenant,
            entry: delivery.streamId,
            eventId: delivery.event?.id,
            attempt: failures,
            code: error.code,
            error: message,
          },
          'handler failed; will retry',
        );
        retry.push(Object.assign(delivery, { failures, firstFailedAt }));
        continue;
      }
      const deadLetter = deadLetterFields({
        entry: delivery.streamId,
        lane: delivery.lane,
        group: this.group,
        code: error.code,
        message,
        attempts: failures,
        firstFailedAt: new Date(firstFailedAt).toISOString(),
        lastFailedAt: new Date(now).toISOString(),
        fields: delivery.fields,
      });
      const traceparent = outcome.traceparent ?? delivery.event?.traceparent ?? '';
      const failed =
        delivery.event && this.options.processor.emitsFailures
          ? [
              failedEvent(delivery.event, {
                group: this.group,
                streamId: delivery.streamId,
                code: error.code,
                message,
                attempts: failures,
                traceparent,
              }),
            ]
          : [];
      toSettle.push({ delivery, events: failed, deadLetter });
      logger.error(
        {
          group: this.group,
          tenant,
          entry: delivery.streamId,
          eventId: delivery.event?.id,
          attempts: failures,
          code: error.code,
          error: message,
        },
        'entry dead-lettered',
      );
      observer.deadLettered(this.group, tenant, error.code);
    }
    if (toSettle.length > 0) pipeline.sdSettle(...this.settleArgs(tenant, deliveries[0]!.lane, toSettle));
    let replies: [Error | null, unknown][] | null;
    try {
      replies = await pipeline.exec();
    } catch (error) {
      replies = null;
      logger.warn({ err: error, group: this.group, tenant }, 'settling failed; entries stay pending and are retried');
    }
    const [settleError, results] = replies?.at(-1) ?? [new Error('no reply'), null];
    if (toSettle.length === 0) return retry;
    if (settleError || !Array.isArray(results)) {
      if (replies)
        logger.warn(
          { err: settleError, group: this.group, tenant },
          'settling failed; entries stay pending and are retried',
        );
      return [...retry, ...toSettle.map(({ delivery }) => delivery)];
    }
    toSettle.forEach(({ delivery }, index) => {
      if (results[index] === -1)
        logger.warn(
          { group: this.group, tenant, entry: delivery.streamId },
          'entry was taken over by another consumer; result dropped',
        );
    });
    this.release(toSettle.map(({ delivery }) => delivery));
    if (results.some((appended) => Number(appended) > 0))
      await markWork(redis, keys, [tenant]).catch((error: unknown) =>
        logger.warn({ err: error, group: this.group, tenant }, 'marking follow-on work failed; a full read finds it'),
      );
    return retry;
  }

  /** One settle.lua call for a batch of one lane of a tenant (see the script's header for the layout). */
  private settleArgs(
    tenant: string,
    lane: Lane,
    entries: { delivery: Delivery; events: TicketEvent[]; deadLetter: string[] }[],
  ): (string | number)[] {
    const { keys, emittedTtlSeconds } = this.options;
    const markers = entries.flatMap(({ events }) => events.map((event) => keys.eventEmitted(tenant, event.id)));
    const args: (string | number)[] = [
      5 + markers.length,
      laneKey(keys, tenant, lane),
      otherLaneKey(keys, tenant, lane),
      keys.dlq(tenant),
      keys.retryState(tenant, this.group),
      keys.laneSequence(tenant),
      ...markers,
      this.group,
      this.consumer,
      emittedTtlSeconds,
      entries.length,
    ];
    for (const { delivery, events, deadLetter } of entries) {
      args.push(delivery.streamId, events.length, deadLetter.length, ...deadLetter);
      for (const event of events) {
        const fields = encodeEvent(event);
        args.push(fields.length, ...fields);
      }
    }
    return args;
  }

  /** Takes over entries that sat idle past the claim timeout on a consumer that died or hung. */
  private async reclaimIdle(): Promise<void> {
    const { redis, keys, processor } = this.options;
    for (const key of [...this.tenants].flatMap((tenant) => keys.lanes(tenant))) {
      if (!this.running) return;
      const free = processor.concurrency - this.inflight;
      if (free <= 0) return;
      const tenant = this.tenantOfKey(key);
      const [, claimed] = (await redis.xautoclaim(
        key,
        this.group,
        this.consumer,
        this.policy.claimIdleMs,
        '0-0',
        'COUNT',
        Math.min(free, 100),
      )) as [string, StreamEntry[], string[]];
      const own = this.held.get(key);
      // Entries still held here that another consumer had taken are ours again: touch them again.
      for (const [id] of claimed) {
        const delivery = own?.get(id);
        if (delivery) delivery.takenOver = false;
      }
      const entries = claimed.filter((entry): entry is [string, string[]] => entry[1] !== null && !own?.has(entry[0]));
      if (entries.length === 0) continue;
      const ids = entries.map(([id]) => id);
      const [records, pending] = await Promise.all([
        redis.hmget(keys.retryState(tenant, this.group), ...ids),
        redis.xpending(key, this.group, ids[0]!, ids.at(-1)!, ids.length * 2, this.consumer) as Promise<
          [string, string, number, number][]
        >,
      ]);
      const deliveryCounts = new Map(pending.map(([id, , , count]) => [id, Number(count)]));
      const deliveries = entries.map(([id, fields], index) => {
        const record = records[index] ? (JSON.parse(records[index]) as RetryRecord) : undefined;
        return this.toDelivery(tenant, key, id, fields, deliveryCounts.get(id) ?? 1, record);
      });
      this.log.info({ group: this.group, tenant, count: deliveries.length }, 'took over idle entries');
      this.options.observer.reclaimed(this.group, tenant, deliveries.length);
      this.dispatch(deliveries);
    }
  }

  /** Keeps held entries fresh; reports, once each, those another consumer has taken over. */
  private async touchHeld(): Promise<void> {
    for (const [stream, held] of this.held) {
      const ids = [...held.values()].filter((delivery) => !delivery.takenOver).map((delivery) => delivery.streamId);
      if (ids.length === 0) continue;
      const tenant = this.tenantOfKey(stream);
      const lost = await this.options.redis.sdTouch(stream, this.group, this.consumer, ...ids);
      for (const id of lost) {
        const delivery = held.get(id);
        if (delivery) delivery.takenOver = true;
      }
      if (lost.length > 0)
        this.log.warn({ group: this.group, tenant, entries: lost }, 'entries were taken over by another consumer');
    }
  }

  /** Tells `streamdesk status` this consumer's process is alive, even while its streams are quiet. */
  private async heartbeat(): Promise<void> {
    await this.options.redis.zadd(this.options.keys.consumersSeen, Date.now(), this.consumer);
  }

  private async removeDeadConsumers(): Promise<void> {
    const { redis, keys, deadConsumerIdleMs } = this.options;
    await redis.zremrangebyscore(keys.consumersSeen, '-inf', Date.now() - deadConsumerIdleMs);
    for (const stream of [...this.tenants].flatMap((tenant) => keys.lanes(tenant))) {
      const consumers = (await redis.xinfo('CONSUMERS', stream, this.group)) as (string | number)[][];
      for (const info of consumers) {
        const consumer = toRecord(info) as { name?: string; pending?: number; idle?: number };
        if (
          consumer.name &&
          consumer.name !== this.consumer &&
          consumer.pending === 0 &&
          Number(consumer.idle) > deadConsumerIdleMs
        ) {
          await redis.sdReleaseConsumer(stream, this.group, consumer.name);
        }
      }
    }
  }
}
