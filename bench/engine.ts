/**
 * Phase (a): the stream engine alone, beside its ceilings and a peer, all in one sitting. Three
 * no-op stages chained through the real StreamRunner on one tenant stream (three consumer groups,
 * each reading every entry), in one process and with one process per hop; a raw ioredis three-hop
 * chain over three streams (one consumer per hop), in the same two layouts; and BullMQ, three
 * queues chained by their workers with the same payload (removeOnComplete). Layouts alternate
 * within each repeat, so a noisy moment of the machine falls on all of them alike.
 */
import { fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Queue, Worker } from 'bullmq';
import { stageProcessor } from '../src/consumers/stage.js';
import { createRedis, type RedisClient } from '../src/streams/redis.js';
import { StreamRunner } from '../src/streams/runner.js';
import type { BenchEnv } from './support/env.js';
import { hops, noopStage, preload, rawHop, tickets, unlinkMatching } from './support/chain.js';
import { coresUsed, cpuSnapshot, type CpuParties } from './support/cpu.js';
import type { HopJob } from './support/hop-child.js';
import { median, round, until } from './support/stats.js';

export type EngineSettings = {
  items: number;
  repeats: number;
  /** Raw chain: XREADGROUP COUNT. */
  rawCount: number;
  /** Raw chain and engine: XREADGROUP BLOCK, ms. */
  blockMs: number;
  /** Engine: the runner's batch size (its default, 100): XREADGROUP COUNT at most. */
  runnerBatchSize: number;
  /** BullMQ: jobs each worker runs at once (the engine's batch size, for a like-for-like peer). */
  bullmqConcurrency: number;
  timeoutMs: number;
};

export const layoutNames = ['engine', 'engineSplit', 'raw', 'rawSplit', 'bullmq'] as const;
export type LayoutName = (typeof layoutNames)[number];

/** Items per second and cores used (this process plus its children) of one layout in one repeat. */
export type LayoutRun = { itemsPerSecond: number; seconds: number; cpu: CpuParties | undefined };

export type EngineRun = Record<LayoutName, LayoutRun>;

export type EngineResult = {
  settings: EngineSettings & {
    engine: { stageConcurrency: number; groups: string[]; streams: number };
    raw: { streams: number; consumersPerHop: number };
    bullmq: { version: string; queues: number };
  };
  runs: EngineRun[];
  /** Medians per layout. */
  itemsPerSecond: Record<LayoutName, number>;
  /** The engine's better layout, the raw chain's better layout, and the ratios between them and BullMQ. */
  engineItemsPerSecond: number;
  rawItemsPerSecond: number;
  /** engine (best layout) / raw (best layout), from the medians. */
  ratio: number;
  /** engine (best layout) / BullMQ, from the medians. */
  bullmqRatio: number;
};

type Timed = { seconds: number; cpu: CpuParties | undefined };

async function timed(items: number, what: string, done: () => Promise<boolean>, timeoutMs: number): Promise<Timed> {
  const cpu = cpuSnapshot();
  const started = performance.now();
  await until(done, { timeoutMs, intervalMs: 5, what: `${items} items through the ${what}` });
  return { seconds: (performance.now() - started) / 1_000, cpu: coresUsed(cpu, cpuSnapshot()) };
}

/** Forks one child per job, waits until each has connected, then starts them together. */
async function startHopChildren(jobs: HopJob[]): Promise<{ go(): void; stop(): Promise<void> }> {
  const children = jobs.map(() =>
    fork(new URL('./support/hop-child.ts', import.meta.url), [], {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    }),
  );
  await Promise.all(
    children.map(
      (child, index) =>
        new Promise<void>((resolve, reject) => {
          child.once('message', (message) =>
            message === 'ready' ? resolve() : reject(new Error(`hop child: ${String(message)}`)),
          );
          child.once('exit', (code) => reject(new Error(`hop child exited (${code}) before it was ready`)));
          child.send(jobs[index]!);
        }),
    ),
  );
  return {
    go: () => children.forEach((child) => child.send('go')),
    async stop() {
      await Promise.all(
        children.map(
          (child) =>
            new Promise<void>((resolve) => {
              const kill = setTimeout(() => child.kill('SIGKILL'), 10_000);
              child.once('exit', () => {
                clearTimeout(kill);
                resolve();
              });
              child.send('stop');
            }),
        ),
      );
    },
  };
}

async function engineOnce(
  env: BenchEnv,
  poller: RedisClient,
  tenant: string,
  settings: EngineSettings,
  split: boolean,
): Promise<Timed> {
  const { services, config, logger } = env;
  const stream = services.keys.events(tenant);
  await preload(services.redis, stream, tickets(tenant, settings.items));
  for (const hop of hops) await services.redis.xgroup('CREATE', stream, hop.name, '0');
  await services.redis.sadd(services.keys.tenantIds, tenant);
  const target = settings.items * (hops.length + 1);
  const done = async () => (await poller.xlen(stream)) >= target;
  try {
    if (split) {
      const children = await startHopChildren(
        hops.map((_, hop) => ({
          kind: 'engine',
          redisUrl: config.redisUrl,
          prefix: services.keys.prefix,
          hop,
          blockMs: settings.blockMs,
          batchSize: settings.runnerBatchSize,
        })),
      );
      try {
        children.go();
        return await timed(settings.items, 'engine chain, one process per hop', done, settings.timeoutMs);
      } finally {
        await children.stop();
      }
    }
    const runners = hops.map(
      (hop) =>
        new StreamRunner({
          redis: services.redis,
          blockingRedis: services.blockingRedis(),
          keys: services.keys,
          processor: stageProcessor(noopStage(hop), logger),
          retry: config.retry,
          emittedTtlSeconds: config.idempotencyTtlSeconds,
          logger,
          observer: services.metrics,
          blockMs: settings.blockMs,
          batchSize: settings.runnerBatchSize,
        }),
    );
    try {
      await Promise.all(runners.map((runner) => runner.start()));
      return await timed(settings.items, 'engine chain', done, settings.timeoutMs);
    } finally {
      await Promise.all(runners.map((runner) => runner.stop(5_000)));
    }
  } finally {
    await services.redis.srem(services.keys.tenantIds, tenant);
    await unlinkMatching(services.redis, `${services.keys.prefix}:{${tenant}}:*`);
  }
}

async function rawOnce(
  env: BenchEnv,
  poller: RedisClient,
  tag: string,
  settings: EngineSettings,
  split: boolean,
): Promise<Timed> {
  const { services, config } = env;
  // The same hash tag on every stream: the layout would stay on one slot in a cluster, as a tenant's does.
  const streams = [1, 2, 3, 4].map((n) => `${services.keys.prefix}:{${tag}}:raw${n}`);
  await preload(services.redis, streams[0]!, tickets(tag, settings.items));
  for (const stream of streams.slice(0, 3)) await services.redis.xgroup('CREATE', stream, 'g', '0', 'MKSTREAM');
  const done = async () => (await poller.xlen(streams[3]!)) >= settings.items;
  try {
    if (split) {
      const children = await startHopChildren(
        [0, 1, 2].map((index) => ({
          kind: 'raw',
          redisUrl: config.redisUrl,
          from: streams[index]!,
          to: streams[index + 1]!,
          rawCount: settings.rawCount,
          blockMs: settings.blockMs,
        })),
      );
      try {
        children.go();
        return await timed(settings.items, 'raw chain, one process per hop', done, settings.timeoutMs);
      } finally {
        await children.stop();
      }
    }
    const connections = streams.slice(0, 3).map(() => createRedis(config, 'blocking'));
    let running = true;
    const loops = connections.map((connection, index) =>
      rawHop(connection, streams[index]!, streams[index + 1]!, settings, () => running),
    );
    try {
      return await timed(settings.items, 'raw chain', done, settings.timeoutMs);
    } finally {
      running = false;
      await Promise.race([
        Promise.allSettled(loops),
        new Promise((resolve) => setTimeout(resolve, settings.blockMs + 500)),
      ]);
      for (const connection of connections) connection.disconnect();
    }
  } finally {
    await services.redis.unlink(...streams);
  }
}

/** BullMQ's own chain: each hop's worker adds the job's payload to the next queue; the last counts. */
async function bullmqOnce(env: BenchEnv, tag: string, settings: EngineSettings): Promise<Timed> {
  const { services, config } = env;
  const prefix = `${services.keys.prefix}:bull-${tag}`;
  const connection = { url: config.redisUrl };
  const queues = [1, 2, 3].map((n) => new Queue<string[]>(`hop${n}`, { connection, prefix }));
  const jobOptions = { removeOnComplete: true, removeOnFail: true };
  let completed = 0;
  let workers: Worker<string[]>[] = [];
  try {
    let batch: { name: string; data: string[]; opts: typeof jobOptions }[] = [];
    for (const fields of tickets(tag, settings.items)) {
      batch.push({ name: 'ticket', data: fields, opts: jobOptions });
      if (batch.length === 1_000) {
        await queues[0]!.addBulk(batch);
        batch = [];
      }
    }
    if (batch.length > 0) await queues[0]!.addBulk(batch);
    const workerOptions = { connection, prefix, concurrency: settings.bullmqConcurrency, autorun: false };
    workers = [
      new Worker<string[]>(
        'hop1',
        async (job) => void (await queues[1]!.add('ticket', job.data, jobOptions)),
        workerOptions,
      ),
      new Worker<string[]>(
        'hop2',
        async (job) => void (await queues[2]!.add('ticket', job.data, jobOptions)),
        workerOptions,
      ),
      new Worker<string[]>('hop3', async () => void completed++, workerOptions),
    ];
    await Promise.all(workers.map((worker) => worker.waitUntilReady()));
    for (const worker of workers) void worker.run();
    return await timed(settings.items, 'BullMQ chain', async () => completed >= settings.items, settings.timeoutMs);
  } finally {
    await Promise.all(workers.map((worker) => worker.close(true)));
    await Promise.all(queues.map((queue) => queue.close()));
    await unlinkMatching(services.redis, `${prefix}:*`);
  }
}

function bullmqVersion(): string {
  const manifest = JSON.parse(
    readFileSync(new URL('../node_modules/bullmq/package.json', import.meta.url), 'utf8'),
  ) as { version: string };
  return manifest.version;
}

export async function runEngine(
  env: BenchEnv,
  settings: EngineSettings,
  progress: (line: string) => void,
): Promise<EngineResult> {
  const poller = createRedis(env.config, 'commands');
  const runs: EngineRun[] = [];
  const toRun = (timing: Timed): LayoutRun => ({
    itemsPerSecond: round(settings.items / timing.seconds, 0),
    seconds: round(timing.seconds, 3),
    cpu: timing.cpu,
  });
  try {
    for (let repeat = 1; repeat <= settings.repeats; repeat++) {
      const run: EngineRun = {
        engine: toRun(await engineOnce(env, poller, `engine-${repeat}`, settings, false)),
        raw: toRun(await rawOnce(env, poller, `raw-${repeat}`, settings, false)),
        engineSplit: toRun(await engineOnce(env, poller, `engine-split-${repeat}`, settings, true)),
        rawSplit: toRun(await rawOnce(env, poller, `raw-split-${repeat}`, settings, true)),
        bullmq: toRun(await bullmqOnce(env, `${repeat}`, settings)),
      };
      progress(
        `engine run ${repeat}/${settings.repeats}: ${layoutNames.map((name) => `${name} ${run[name].itemsPerSecond}`).join(', ')} items/s`,
      );
      runs.push(run);
    }
  } finally {
    poller.disconnect();
  }
  const itemsPerSecond = Object.fromEntries(
    layoutNames.map((name) => [name, median(runs.map((run) => run[name].itemsPerSecond))]),
  ) as Record<LayoutName, number>;
  const engineItemsPerSecond = Math.max(itemsPerSecond.engine, itemsPerSecond.engineSplit);
  const rawItemsPerSecond = Math.max(itemsPerSecond.raw, itemsPerSecond.rawSplit);
  return {
    settings: {
      ...settings,
      engine: {
        stageConcurrency: stageProcessor(noopStage(hops[0]!), env.logger).concurrency,
        groups: hops.map((hop) => hop.name),
        streams: 1,
      },
      raw: { streams: 4, consumersPerHop: 1 },
      bullmq: { version: bullmqVersion(), queues: 3 },
    },
    runs,
    itemsPerSecond,
    engineItemsPerSecond,
    rawItemsPerSecond,
    ratio: round(engineItemsPerSecond / rawItemsPerSecond, 3),
    bullmqRatio: round(engineItemsPerSecond / itemsPerSecond.bullmq, 2),
  };
}
