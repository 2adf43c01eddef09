/**
 * Phase (a): the stream engine alone. Three no-op stages chained through the real StreamRunner on
 * one tenant stream (three consumer groups, each reading every entry), next to the ceiling: a raw
 * ioredis three-hop chain over three streams with one consumer each.
 */
import { encodeEvent, type EventType, type TicketEvent } from '../src/events.js';
import type { Services } from '../src/runtime/services.js';
import { stageProcessor, type AnyStage, type Stage } from '../src/consumers/stage.js';
import { uuidv7 } from '../src/streams/ids.js';
import { createRedis, type RedisClient } from '../src/streams/redis.js';
import { StreamRunner } from '../src/streams/runner.js';
import type { FollowOn } from '../src/streams/processor.js';
import type { BenchEnv } from './support/env.js';
import { coresUsed, cpuSnapshot, type CpuParties } from './support/cpu.js';
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
  timeoutMs: number;
};

export type EngineRun = {
  engineItemsPerSecond: number;
  rawItemsPerSecond: number;
  engineSeconds: number;
  rawSeconds: number;
  /** Cores used per party while each chain ran. */
  engineCpu: CpuParties | undefined;
  rawCpu: CpuParties | undefined;
};

type Timed = { seconds: number; cpu: CpuParties | undefined };

export type EngineResult = {
  settings: EngineSettings & { engine: { stageConcurrency: number; groups: string[]; streams: number }; raw: { streams: number; consumersPerHop: number } };
  runs: EngineRun[];
  engineItemsPerSecond: number;
  rawItemsPerSecond: number;
  /** engine / raw, from the medians. */
  ratio: number;
};

const emptyContext = { similarTickets: [], assets: [], unmatchedIps: [], kbArticles: [] };

/** The chain's three hops as no-op stages with trivially valid follow-on data. */
const hops: { name: string; handles: EventType; emit: FollowOn }[] = [
  { name: 'hop1', handles: 'ticket.received', emit: { type: 'ticket.context_gathered', data: { context: emptyContext } } },
  {
    name: 'hop2',
    handles: 'ticket.context_gathered',
    emit: {
      type: 'ticket.enhanced',
      data: { enhancement: { summary: 's', likelyCause: '', suggestedCategory: '', suggestedPriority: 'low', nextSteps: [], confidence: 0.5 }, model: 'bench', tokens: { prompt: 0, completion: 0 }, latencyMs: 0 },
    },
  },
  { name: 'hop3', handles: 'ticket.enhanced', emit: { type: 'ticket.written_back', data: { target: 'none', noteId: null, status: null } } },
];

function noopStage(hop: (typeof hops)[number]): AnyStage {
  const stage: Stage = { name: hop.name, handles: [hop.handles], handle: async () => [hop.emit] };
  return stage as AnyStage;
}

function receivedEvent(tenant: string, n: number): TicketEvent {
  const id = uuidv7();
  return {
    id,
    type: 'ticket.received',
    v: 1,
    tenant,
    ticket: `E-${n}`,
    ts: Date.now(),
    causation: '',
    correlation: id,
    traceparent: '00-00000000000000000000000000000000-0000000000000000-00',
    data: { action: 'ticket.created', ticket: { id: `E-${n}`, subject: `Ticket ${n}`, description: 'Bench ticket for the stream engine.' }, deliveryId: `bench-${n}` },
  };
}

async function preload(redis: RedisClient, stream: string, entries: () => Iterable<string[]>): Promise<void> {
  let pipeline = redis.pipeline();
  let queued = 0;
  for (const fields of entries()) {
    pipeline.xadd(stream, '*', ...fields);
    if (++queued % 1_000 === 0) {
      await pipeline.exec();
      pipeline = redis.pipeline();
    }
  }
  await pipeline.exec();
}

async function unlinkMatching(redis: RedisClient, pattern: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = (await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1_000)) as [string, string[]];
    if (keys.length > 0) await redis.unlink(...keys);
    cursor = next;
  } while (cursor !== '0');
}

function* tickets(tenant: string, items: number): Iterable<string[]> {
  for (let n = 0; n < items; n++) yield encodeEvent(receivedEvent(tenant, n));
}

/** Seconds from starting the three runners until the N-th written_back is in the stream. */
async function engineOnce(env: BenchEnv, poller: RedisClient, tenant: string, settings: EngineSettings): Promise<Timed> {
  const { services, config, logger } = env;
  const stream = services.keys.events(tenant);
  await preload(services.redis, stream, () => tickets(tenant, settings.items));
  for (const hop of hops) await services.redis.xgroup('CREATE', stream, hop.name, '0');
  await services.redis.sadd(services.keys.tenantIds, tenant);
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
  const target = settings.items * (hops.length + 1);
  const cpu = cpuSnapshot();
  const started = performance.now();
  try {
    await Promise.all(runners.map((runner) => runner.start()));
    await until(async () => (await poller.xlen(stream)) >= target, { timeoutMs: settings.timeoutMs, intervalMs: 5, what: `${settings.items} items through the engine chain` });
    return { seconds: (performance.now() - started) / 1_000, cpu: coresUsed(cpu, cpuSnapshot()) };
  } finally {
    await Promise.all(runners.map((runner) => runner.stop(5_000)));
    await services.redis.srem(services.keys.tenantIds, tenant);
    await unlinkMatching(services.redis, `${services.keys.prefix}:{${tenant}}:*`);
  }
}

/** The ceiling: per hop one consumer, XREADGROUP COUNT/BLOCK, then per entry MULTI{XADD next, XACK} in one pipeline per batch. */
async function rawOnce(env: BenchEnv, poller: RedisClient, tag: string, settings: EngineSettings): Promise<Timed> {
  const { services, config } = env;
  // The same hash tag on every stream: the layout would stay on one slot in a cluster, as a tenant's does.
  const streams = [1, 2, 3, 4].map((n) => `${services.keys.prefix}:{${tag}}:raw${n}`);
  await preload(services.redis, streams[0]!, () => tickets(tag, settings.items));
  for (const stream of streams.slice(0, 3)) await services.redis.xgroup('CREATE', stream, 'g', '0', 'MKSTREAM');
  const connections = streams.slice(0, 3).map(() => createRedis(config, 'blocking'));
  let running = true;
  const hop = async (connection: RedisClient, from: string, to: string) => {
    while (running) {
      const reply = (await connection.xreadgroup('GROUP', 'g', 'c', 'COUNT', settings.rawCount, 'BLOCK', settings.blockMs, 'STREAMS', from, '>')) as [string, [string, string[]][]][] | null;
      const entries = reply?.[0]?.[1] ?? [];
      if (entries.length === 0) continue;
      const pipeline = connection.pipeline();
      for (const [id, fields] of entries) {
        pipeline.call('MULTI');
        pipeline.xadd(to, '*', ...fields);
        pipeline.xack(from, 'g', id);
        pipeline.call('EXEC');
      }
      await pipeline.exec();
    }
  };
  const cpu = cpuSnapshot();
  const started = performance.now();
  const loops = connections.map((connection, index) => hop(connection, streams[index]!, streams[index + 1]!));
  try {
    await until(async () => (await poller.xlen(streams[3]!)) >= settings.items, { timeoutMs: settings.timeoutMs, intervalMs: 5, what: `${settings.items} items through the raw chain` });
    return { seconds: (performance.now() - started) / 1_000, cpu: coresUsed(cpu, cpuSnapshot()) };
  } finally {
    running = false;
    await Promise.race([Promise.allSettled(loops), new Promise((resolve) => setTimeout(resolve, settings.blockMs + 500))]);
    for (const connection of connections) connection.disconnect();
    await services.redis.unlink(...streams);
  }
}

export async function runEngine(env: BenchEnv, settings: EngineSettings, progress: (line: string) => void): Promise<EngineResult> {
  const poller = createRedis(env.config, 'commands');
  const runs: EngineRun[] = [];
  try {
    for (let repeat = 1; repeat <= settings.repeats; repeat++) {
      const engine = await engineOnce(env, poller, `engine-${repeat}`, settings);
      const raw = await rawOnce(env, poller, `raw-${repeat}`, settings);
      const run: EngineRun = {
        engineSeconds: round(engine.seconds, 3),
        rawSeconds: round(raw.seconds, 3),
        engineItemsPerSecond: round(settings.items / engine.seconds, 0),
        rawItemsPerSecond: round(settings.items / raw.seconds, 0),
        engineCpu: engine.cpu,
        rawCpu: raw.cpu,
      };
      progress(`engine run ${repeat}/${settings.repeats}: engine ${run.engineItemsPerSecond} items/s, raw ${run.rawItemsPerSecond} items/s`);
      runs.push(run);
    }
  } finally {
    poller.disconnect();
  }
  const engineItemsPerSecond = median(runs.map((run) => run.engineItemsPerSecond));
  const rawItemsPerSecond = median(runs.map((run) => run.rawItemsPerSecond));
  return {
    settings: {
      ...settings,
      engine: { stageConcurrency: stageProcessor(noopStage(hops[0]!), env.logger).concurrency, groups: hops.map((hop) => hop.name), streams: 1 },
      raw: { streams: 4, consumersPerHop: 1 },
    },
    runs,
    engineItemsPerSecond,
    rawItemsPerSecond,
    ratio: round(engineItemsPerSecond / rawItemsPerSecond, 3),
  };
}
