/**
 * Phase (e): many tenants, one busy. The three no-op hops of the engine phase run through the
 * real StreamRunner in one process while one tenant drains a preloaded flood, a few small tenants
 * send a ticket now and then, and the rest of the registered tenants stay idle. Run once beside
 * few tenants and once beside many: the busy tenant's drain rate should hardly change, since a
 * read names only the streams with work. Reports the drain rate, the reads (how many, how many
 * streams each named), Redis's time in XREADGROUP per call and per second (INFO commandstats: on a
 * shared Redis, other clients' reads count too), and the small tenants' latency through the hops.
 */
import { stageProcessor } from '../src/consumers/stage.js';
import type { AnyStage, Stage } from '../src/consumers/stage.js';
import { encodeEvent } from '../src/events.js';
import type { RedisClient } from '../src/streams/redis.js';
import { StreamRunner } from '../src/streams/runner.js';
import { markWork } from '../src/streams/work.js';
import { receivedEvent } from '../test/support/events.js';
import type { BenchEnv } from './support/env.js';
import { hops, preload, tickets, unlinkMatching } from './support/chain.js';
import { quantile, round, until } from './support/stats.js';

export type TenantsSettings = {
  /** Tickets preloaded into the busy tenant's stream. */
  busyTickets: number;
  /** Registered tenants beside the busy one, per run (the small ones included). */
  beside: number[];
  /** Of those, tenants that send one ticket every `smallIntervalMs` while the busy one drains. */
  smallTenants: number;
  smallIntervalMs: number;
  timeoutMs: number;
};

export type TenantsRun = {
  beside: number;
  busyTicketsPerSecond: number;
  seconds: number;
  reads: number;
  readsPerSecond: number;
  /** Streams named per XREADGROUP: mean and most. */
  streamsPerRead: { mean: number; max: number };
  /** Redis's own time in XREADGROUP (all clients of the Redis: shared machine). */
  redisXreadgroup: { usecPerCall: number; msPerSecond: number };
  small: { tickets: number; p50Ms: number; p99Ms: number };
};

export type TenantsResult = {
  settings: TenantsSettings;
  runs: TenantsRun[];
  /** Busy tenant's drain rate beside the most tenants / beside the fewest. */
  drainRatio: number;
};

/** The streams each XREADGROUP of a connection names. */
function countReads(blocking: RedisClient, named: number[]): void {
  const call = blocking.call.bind(blocking) as (...args: unknown[]) => Promise<unknown>;
  (blocking as unknown as { call: typeof call }).call = (...args: unknown[]) => {
    if (args[0] === 'XREADGROUP') named.push((args.length - args.indexOf('STREAMS') - 1) / 2);
    return call(...args);
  };
}

async function xreadgroupStats(redis: RedisClient): Promise<{ calls: number; usec: number }> {
  const info = (await redis.info('commandstats')) as string;
  const match = /cmdstat_xreadgroup:calls=(\d+),usec=(\d+)/.exec(info);
  return { calls: Number(match?.[1] ?? 0), usec: Number(match?.[2] ?? 0) };
}

/** The last hop notes how long a small tenant's ticket took: its ticket id carries when it was sent. */
function timedHops(latencies: number[]): AnyStage[] {
  return hops.map((hop, index) => {
    const stage: Stage = {
      name: hop.name,
      handles: [hop.handles],
      handle: async (event) => {
        if (index === hops.length - 1 && event.ticket.startsWith('small-'))
          latencies.push(Date.now() - Number(event.ticket.split('-')[1]));
        return [hop.emit];
      },
    };
    return stage as AnyStage;
  });
}

async function runOnce(env: BenchEnv, settings: TenantsSettings, beside: number, run: number): Promise<TenantsRun> {
  const { services, config, logger } = env;
  const { redis, keys } = services;
  const tag = `r${run}`;
  const busy = `${tag}-busy`;
  const others = Array.from({ length: beside }, (_, i) => `${tag}-t${i}`);
  const small = others.slice(0, settings.smallTenants);
  await preload(redis, keys.events(busy), tickets(busy, settings.busyTickets));
  await redis.sadd(keys.tenantIds, busy, ...others);
  const latencies: number[] = [];
  const named: number[] = [];
  const runners = timedHops(latencies).map((stage) => {
    const blockingRedis = services.blockingRedis();
    countReads(blockingRedis, named);
    return new StreamRunner({
      redis,
      blockingRedis,
      keys,
      processor: stageProcessor(stage, logger),
      retry: config.retry,
      emittedTtlSeconds: config.idempotencyTtlSeconds,
      logger,
    });
  });
  const target = settings.busyTickets * (hops.length + 1);
  let sending = true;
  let sender: Promise<void> | undefined;
  const send = async () => {
    for (let n = 0; sending; n++) {
      const tenant = small[n % small.length];
      if (tenant) {
        const event = receivedEvent(tenant, `small-${Date.now()}-${n}`);
        await redis.xadd(keys.events(tenant), '*', ...encodeEvent(event));
        await markWork(redis, keys, [tenant]);
      }
      await new Promise((resolve) => setTimeout(resolve, settings.smallIntervalMs / Math.max(1, small.length)));
    }
  };
  try {
    await Promise.all(runners.map((runner) => runner.start()));
    sender = send();
    const before = await xreadgroupStats(redis);
    named.length = 0;
    const started = performance.now();
    await until(async () => (await redis.xlen(keys.events(busy))) >= target, {
      timeoutMs: settings.timeoutMs,
      intervalMs: 10,
      what: `${settings.busyTickets} tickets of the busy tenant through ${hops.length} hops`,
    });
    const seconds = (performance.now() - started) / 1_000;
    const after = await xreadgroupStats(redis);
    const calls = Math.max(1, after.calls - before.calls);
    return {
      beside,
      busyTicketsPerSecond: round(settings.busyTickets / seconds),
      seconds: round(seconds, 2),
      reads: named.length,
      readsPerSecond: round(named.length / seconds),
      streamsPerRead: {
        mean: round(named.reduce((sum, n) => sum + n, 0) / Math.max(1, named.length), 2),
        max: Math.max(0, ...named),
      },
      redisXreadgroup: {
        usecPerCall: round((after.usec - before.usec) / calls, 1),
        msPerSecond: round((after.usec - before.usec) / 1_000 / seconds, 1),
      },
      small: {
        tickets: latencies.length,
        p50Ms: round(quantile(latencies, 0.5)),
        p99Ms: round(quantile(latencies, 0.99)),
      },
    };
  } finally {
    sending = false;
    await sender?.catch(() => undefined);
    await Promise.all(runners.map((runner) => runner.stop(5_000)));
    await redis.srem(keys.tenantIds, busy, ...others);
    await unlinkMatching(redis, `${keys.prefix}:{${tag}-*`);
  }
}

export async function runTenants(
  env: BenchEnv,
  settings: TenantsSettings,
  progress: (line: string) => void,
): Promise<TenantsResult> {
  const runs: TenantsRun[] = [];
  for (const [index, beside] of settings.beside.entries()) {
    const result = await runOnce(env, settings, beside, index);
    progress(
      `tenants: beside ${beside}: ${result.busyTicketsPerSecond} tickets/s, ${result.readsPerSecond} reads/s naming ${result.streamsPerRead.mean} streams on average, small p99 ${result.small.p99Ms} ms`,
    );
    runs.push(result);
  }
  const fewest = runs.reduce((a, b) => (a.beside <= b.beside ? a : b));
  const most = runs.reduce((a, b) => (a.beside >= b.beside ? a : b));
  return { settings, runs, drainRatio: round(most.busyTicketsPerSecond / fewest.busyTicketsPerSecond, 3) };
}
