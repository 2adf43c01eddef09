import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { processBatch, type BatchRunner } from './batch.js';
import { toDelivery, type Delivery } from './delivery.js';
import type { Lane } from './lanes.js';
import { ensureGroup, heartbeat, leaveGroup, refreshTenants, removeDeadConsumers, type Member } from './maintenance.js';
import { noopObserver } from './observer.js';
import { retryDelay } from './outcomes.js';
import type { RetryPolicy } from './processor.js';
import { consumerName, type RunnerOptions } from './runner-options.js';
import { GroupReader, isForOtherGroups, type StreamEntry } from './reader.js';
import { settleBatch, type Settler } from './settle.js';
import { SkippedEntries } from './skipped.js';
import { StreamsWithWork } from './work.js';
import { claimIdle, touchHeld } from './takeover.js';

export type { RunnerOptions } from './runner-options.js';

/**
 * Drives one consumer group over every tenant's stream: discovers tenants, reads them fairly,
 * runs the processor, emits follow-on events and acknowledges in one step, retries with backoff,
 * dead-letters, takes over entries of dead consumers and keeps its own entries from looking dead.
 * What to do with an outcome is decided in outcomes.ts; settling, takeover and upkeep are done by
 * settle.ts, takeover.ts and maintenance.ts; this class holds the state and schedules the work.
 */
export class StreamRunner {
  readonly group: string;
  readonly consumer: string;
  private readonly options: Required<Omit<RunnerOptions, 'consumerName'>>;
  private readonly policy: RetryPolicy;
  private readonly member: Member;
  private readonly settler: Settler;
  private readonly batchRunner: BatchRunner;
  private readonly tenants = new Set<string>();
  /** By stream key (a tenant's lane). */
  private readonly held = new Map<string, Map<string, Delivery>>();
  private readonly streamQueues = new Map<string, Delivery[]>();
  private readonly drainingStreams = new Set<string>();
  private readonly backingOffStreams = new Set<string>();
  private readonly tasks = new Set<Promise<void>>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly skipped: SkippedEntries;
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
    this.reader = new GroupReader(options.blockingRedis, this.group, this.consumer, (stream, count, error) =>
      this.skipped.failed(stream, count, error),
    );
    this.work = new StreamsWithWork(options.redis, options.keys, this.options.fullReadMs);
    const { redis, keys, processor, observer, logger, emittedTtlSeconds } = this.options;
    this.member = { redis, keys, group: this.group, consumer: this.consumer };
    this.settler = {
      ...this.member,
      emittedTtlSeconds,
      policy: this.policy,
      emitsFailures: processor.emitsFailures,
      observer,
      logger,
    };
    this.batchRunner = { processor, policy: this.policy, observer };
    this.skipped = new SkippedEntries(this.member, logger, this.work.enabled, (task) => this.track(task));
  }

  get log(): Logger {
    return this.options.logger;
  }

  async start(): Promise<void> {
    this.running = true;
    await heartbeat(this.member);
    await refreshTenants(this.member, this.tenants, this.log);
    this.readLoop = this.read();
    const { tenantRefreshMs, deadConsumerIdleMs } = this.options;
    const { claimIdleMs } = this.policy;
    this.every(tenantRefreshMs, () => refreshTenants(this.member, this.tenants, this.log));
    this.every(Math.max(50, Math.min(5_000, Math.floor(claimIdleMs / 2))), () => this.reclaimIdle());
    this.every(Math.max(50, Math.floor(claimIdleMs / 3)), async () => {
      await heartbeat(this.member);
      await this.touchHeld();
    });
    this.every(Math.min(60_000, deadConsumerIdleMs), () =>
      removeDeadConsumers(this.member, this.tenants, deadConsumerIdleMs),
    );
  }

  /** Runs `work` every `ms` while running, the next run timed from the end of the last. */
  private every(ms: number, work: () => Promise<void>): void {
    const tick = async () => {
      if (!this.running) return;
      await work().catch((error: unknown) =>
        this.log.warn({ err: error, group: this.group }, 'runner maintenance failed'),
      );
      if (this.running) this.timers.add(setTimeout(() => void tick(), ms).unref());
    };
    this.timers.add(setTimeout(() => void tick(), ms).unref());
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
    await leaveGroup(this.member, this.tenants, this.log);
  }

  private async read(): Promise<void> {
    const { keys, batchSize, blockMs, processor, priorityShare } = this.options;
    let outageMs = 0;
    while (this.running) {
      await this.work.refresh(this.tenants);
      if (!this.running) break;
      const free = processor.concurrency - this.inflight;
      const lanes = { normal: this.lanesToRead('normal'), priority: this.lanesToRead('priority') };
      const readable = [...new Set([...lanes.normal, ...lanes.priority].map((stream) => keys.tenantOf(stream)))];
      if (free > 0 && this.work.idle) {
        this.skipped.flush();
        await this.work.waitForWork(this.options.blockingRedis, blockMs);
        continue;
      }
      if (free <= 0 || readable.length === 0) {
        this.skipped.flush();
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
        reply = await this.reader.readLanes(lanes, count, priorityShare, block, this.skipped.take());
        this.work.afterRead([...lanes.normal, ...lanes.priority], reply);
        outageMs = 0;
      } catch (error) {
        if (!this.running) break;
        if (String(error).includes('NOGROUP')) {
          await refreshTenants(this.member, this.tenants, this.log).catch(() => undefined);
          for (const tenant of readable)
            if (this.tenants.has(tenant)) await ensureGroup(this.member, tenant).catch(() => undefined);
          continue;
        }
        outageMs = Math.min(2_000, Math.max(50, outageMs * 2));
        this.log.warn({ err: error, group: this.group }, 'stream read failed; retrying');
        await sleep(outageMs);
        continue;
      }
      for (const [stream, entries] of reply ?? []) this.accept(stream, entries);
    }
    this.skipped.flush();
  }

  /** The lanes of one kind to read now: tenants not held back, streams with work, not backing off, queue not full. */
  private lanesToRead(lane: Lane): string[] {
    const { keys, processor, batchSize } = this.options;
    return [...this.tenants]
      .filter((tenant) => !processor.holdsBack?.(tenant))
      .map((tenant) => keys.lane(tenant, lane))
      .filter(
        (stream) =>
          this.work.has(stream) &&
          !this.backingOffStreams.has(stream) &&
          (this.streamQueues.get(stream)?.length ?? 0) < batchSize,
      );
  }

  /** New entries of one stream: those for other groups are acknowledged unseen, the rest dispatched. */
  private accept(stream: string, entries: readonly StreamEntry[]): void {
    const { keys, processor } = this.options;
    const skipped: string[] = [];
    const deliveries: Delivery[] = [];
    for (const [id, fields] of entries) {
      if (fields === null) continue;
      if (isForOtherGroups(fields, this.group, processor.handles)) skipped.push(id);
      else deliveries.push(toDelivery(keys, stream, { id, fields, deliveries: 1 }));
    }
    this.skipped.add(stream, skipped);
    if (deliveries.length > 0) this.dispatch(deliveries);
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
    const { delayMs, attempt } = retryDelay(retry, this.policy);
    for (const delivery of retry) this.options.observer.retried(this.group, delivery.tenant, attempt);
    await sleep(delayMs, undefined, { signal: this.shutdown.signal }).catch(() => undefined);
  }

  /** Runs one batch and settles it. Returns the deliveries to retry after a backoff. */
  private async runBatch(tenant: string, deliveries: Delivery[]): Promise<Delivery[]> {
    const outcomes = await processBatch(this.batchRunner, tenant, deliveries, this.shutdown.signal);
    const { settled, retry } = await settleBatch(this.settler, deliveries, outcomes);
    if (settled.length > 0) this.release(settled);
    return retry;
  }

  /** Takes over entries that sat idle past the claim timeout on a consumer that died or hung. */
  private async reclaimIdle(): Promise<void> {
    const { keys, processor, observer } = this.options;
    for (const stream of [...this.tenants].flatMap((tenant) => keys.lanes(tenant))) {
      if (!this.running) return;
      const free = processor.concurrency - this.inflight;
      if (free <= 0) return;
      const max = Math.min(free, 100);
      const deliveries = await claimIdle(this.member, stream, this.policy.claimIdleMs, max, this.held.get(stream));
      if (deliveries.length === 0) continue;
      const tenant = keys.tenantOf(stream);
      this.log.info({ group: this.group, tenant, count: deliveries.length }, 'took over idle entries');
      observer.reclaimed(this.group, tenant, deliveries.length);
      this.dispatch(deliveries);
    }
  }

  /** Keeps held entries fresh; reports, once each, those another consumer has taken over. */
  private async touchHeld(): Promise<void> {
    for (const [stream, held] of this.held) {
      const lost = await touchHeld(this.member, stream, held);
      if (lost.length > 0)
        this.log.warn(
          { group: this.group, tenant: this.options.keys.tenantOf(stream), entries: lost },
          'entries were taken over by another consumer',
        );
    }
  }
}
