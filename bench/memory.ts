/**
 * Phase (f): Redis memory per ticket. Tickets go in through ingest's append (a delivery marker
 * each) and through the three no-op hops of the engine phase (an emitted marker per follow-on),
 * on one tenant of the phase's own prefix; then MEMORY USAGE of every key of the tenant, summed by
 * kind and divided by the tickets. The hops' events are small: a real ticket's events (description,
 * context, enhancement) make the stream's share larger, the markers' share stays the same.
 */
import { createHash, randomUUID } from 'node:crypto';
import { stageProcessor } from '../src/consumers/stage.js';
import { encodeEvent } from '../src/events.js';
import { appendAndMarkWork } from '../src/streams/work.js';
import { StreamRunner } from '../src/streams/runner.js';
import { receivedEvent } from '../test/support/events.js';
import type { BenchEnv } from './support/env.js';
import { hops, noopStage, unlinkMatching } from './support/chain.js';
import { round, until } from './support/stats.js';

export type MemorySettings = { tickets: number; timeoutMs: number };

export type MemoryResult = {
  settings: MemorySettings;
  /** Bytes per ticket by kind of key (MEMORY USAGE … SAMPLES 0), and in all. */
  bytesPerTicket: Record<string, number>;
  keysPerTicket: number;
};

/** The kind of a tenant key: its suffix after the hash tag, without ids. */
function kindOf(key: string): string {
  const suffix = key.slice(key.indexOf('}:') + 2);
  return suffix.startsWith('events') ? 'stream' : suffix.replace(/:.*$/, '');
}

export async function runMemory(env: BenchEnv, settings: MemorySettings): Promise<MemoryResult> {
  const { services, config, logger } = env;
  const { redis, keys } = services;
  const tenant = 'memory';
  await redis.sadd(keys.tenantIds, tenant);
  for (let n = 0; n < settings.tickets; n += 200) {
    await Promise.all(
      Array.from({ length: Math.min(200, settings.tickets - n) }, async (_, i) => {
        const event = receivedEvent(tenant, `M-${n + i}`);
        const deliveryId = randomUUID();
        await appendAndMarkWork(redis, keys, tenant, {
          stream: keys.events(tenant),
          otherLane: keys.priorityEvents(tenant),
          laneSequence: keys.laneSequence(tenant),
          marker: keys.deliverySeen(tenant, deliveryId),
          markerTtlSeconds: config.idempotencyTtlSeconds,
          eventId: event.id,
          // As ingest computes it: the SHA-256 of the raw body, in hex.
          bodyHash: createHash('sha256').update(deliveryId).digest('hex'),
          fields: encodeEvent(event),
        });
      }),
    );
  }
  const runners = hops.map(
    (hop) =>
      new StreamRunner({
        redis,
        blockingRedis: services.blockingRedis(),
        keys,
        processor: stageProcessor(noopStage(hop), logger),
        retry: config.retry,
        emittedTtlSeconds: config.idempotencyTtlSeconds,
        logger,
      }),
  );
  try {
    await Promise.all(runners.map((runner) => runner.start()));
    const target = settings.tickets * (hops.length + 1);
    await until(async () => (await redis.xlen(keys.events(tenant))) >= target, {
      timeoutMs: settings.timeoutMs,
      intervalMs: 20,
      what: `${settings.tickets} tickets through ${hops.length} hops`,
    });
  } finally {
    await Promise.all(runners.map((runner) => runner.stop(5_000)));
  }
  const bytes: Record<string, number> = {};
  let count = 0;
  let cursor = '0';
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', keys.tenantKeyPattern(tenant), 'COUNT', 1_000);
    for (const key of found) {
      const usage = Number(await redis.memory('USAGE', key, 'SAMPLES', 0));
      bytes[kindOf(key)] = (bytes[kindOf(key)] ?? 0) + usage;
      count += 1;
    }
    cursor = next;
  } while (cursor !== '0');
  await redis.srem(keys.tenantIds, tenant);
  await unlinkMatching(redis, keys.tenantKeyPattern(tenant));
  const perTicket = Object.fromEntries(
    Object.entries(bytes).map(([kind, total]) => [kind, round(total / settings.tickets, 1)]),
  );
  perTicket.all = round(Object.values(bytes).reduce((sum, value) => sum + value, 0) / settings.tickets, 1);
  return { settings, bytesPerTicket: perTicket, keysPerTicket: round(count / settings.tickets, 2) };
}
