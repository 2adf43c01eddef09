import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { stageProcessor, type Stage } from '../../src/consumers/stage.js';
import { encodeEvent } from '../../src/events.js';
import type { RedisClient } from '../../src/streams/redis.js';
import { StreamRunner, type RunnerOptions } from '../../src/streams/runner.js';
import { markWork } from '../../src/streams/work.js';
import { ingestApp } from '../support/app.js';
import { createTestEnv, waitFor, type TestEnv } from '../support/env.js';
import { appendEvent, receivedEvent } from '../support/events.js';
import { signedHeaders, ticketBody } from '../support/webhook.js';

let t: TestEnv;
const runners: StreamRunner[] = [];
let tenantNo = 0;

beforeAll(async () => {
  t = await createTestEnv();
});
afterEach(async () => {
  await Promise.all(runners.splice(0).map((runner) => runner.stop(2_000)));
});
afterAll(async () => {
  await t?.cleanup();
});

async function newTenant(): Promise<string> {
  const id = `busy-${++tenantNo}`;
  await t.services.registry.create({ id });
  return id;
}

/** Registers idle tenants straight in the id set: the runner reads only that set. */
async function idleTenants(count: number): Promise<void> {
  const ids = Array.from({ length: count }, (_, i) => `idle-${tenantNo}-${i}`);
  tenantNo += 1;
  await t.services.redis.sadd(t.services.keys.tenantIds, ...ids);
}

/** A stage that counts what it handles, by tenant. */
function countingStage(name: string, counts: Map<string, number>): Stage<'ticket.received'> {
  return {
    name,
    handles: ['ticket.received'],
    handle: async (event) => {
      counts.set(event.tenant, (counts.get(event.tenant) ?? 0) + 1);
      return [];
    },
  };
}

/** The streams each XREADGROUP of this connection names, as the reader built them. */
function recordReads(blocking: RedisClient): string[][] {
  const reads: string[][] = [];
  const call = blocking.call.bind(blocking) as (...args: unknown[]) => Promise<unknown>;
  (blocking as unknown as { call: (...args: unknown[]) => Promise<unknown> }).call = (...args: unknown[]) => {
    if (args[0] === 'XREADGROUP') {
      const at = args.indexOf('STREAMS');
      const named = args.slice(at + 1);
      reads.push(named.slice(0, named.length / 2) as string[]);
    }
    return call(...args);
  };
  return reads;
}

async function startRunner(
  stage: Stage<'ticket.received'>,
  overrides: Partial<RunnerOptions> = {},
): Promise<{ runner: StreamRunner; reads: string[][] }> {
  const { services } = t;
  const blockingRedis = services.blockingRedis();
  const reads = recordReads(blockingRedis);
  const runner = new StreamRunner({
    redis: services.redis,
    blockingRedis,
    keys: services.keys,
    processor: stageProcessor(stage, services.logger),
    retry: { maxAttempts: 3, baseMs: 60, maxMs: 1_000, claimIdleMs: 5_000 },
    emittedTtlSeconds: 3_600,
    logger: services.logger,
    blockMs: 1_000,
    tenantRefreshMs: 100,
    // Only marks bring a stream back here: a full read would hide a lost one.
    fullReadMs: 600_000,
    ...overrides,
  });
  runners.push(runner);
  await runner.start();
  return { runner, reads };
}

describe('reading only streams with work', () => {
  it('drains a busy tenant beside 1,000 idle ones, naming only its streams once the idle ones were read', async () => {
    await idleTenants(1_000);
    const busy = await newTenant();
    const counts = new Map<string, number>();
    const { reads } = await startRunner(countingStage('context', counts));
    await waitFor(() => reads.some((named) => named.length > 1_000), { message: 'the first read names every tenant' });
    const afterFirst = reads.length;
    for (let i = 0; i < 200; i++) await appendEvent(t.services, receivedEvent(busy, `B-${i}`));
    await waitFor(() => counts.get(busy) === 200, { message: 'every entry of the busy tenant is handled' });
    const later = reads.slice(afterFirst + 2);
    expect(later.length).toBeGreaterThan(0);
    const lanes = new Set(t.services.keys.lanes(busy));
    expect(later.every((named) => named.every((stream) => lanes.has(stream)))).toBe(true);
  });

  it('picks up a tenant that gets an entry after it was idle, at once', async () => {
    const [first, second] = [await newTenant(), await newTenant()];
    const counts = new Map<string, number>();
    await startRunner(countingStage('context', counts));
    await appendEvent(t.services, receivedEvent(first, 'F-1'));
    await waitFor(() => counts.get(first) === 1);
    const started = Date.now();
    await appendEvent(t.services, receivedEvent(second, 'S-1'));
    await waitFor(() => counts.get(second) === 1, { timeoutMs: 5_000 });
    // The bell wakes the reader; no block timeout nor full read is waited out.
    expect(Date.now() - started).toBeLessThan(900);
  });

  it('picks up an ingested ticket by the mark its append made; a resend marks nothing', async () => {
    const { services } = t;
    const app = await ingestApp(t.config, services);
    try {
      const first = await newTenant();
      const { id: second, secret } = await services.registry.create({ id: `ingested-${tenantNo}` });
      const counts = new Map<string, number>();
      await startRunner(countingStage('context', counts));
      // Once the first tenant's entry is handled, the second's empty lanes were read and dropped.
      await appendEvent(services, receivedEvent(first, 'F-1'));
      await waitFor(() => counts.get(first) === 1);
      const body = ticketBody({ id: 'W-1', subject: 'VPN down', description: 'No tunnel' });
      const headers = signedHeaders(secret, body, { deliveryId: 'd-1' });
      const post = () => app.inject({ method: 'POST', url: `/v1/webhooks/${second}/tickets`, payload: body, headers });
      const response = await post();
      expect(response.json()).toMatchObject({ duplicate: false });
      const sequence = Number(await services.redis.get(services.keys.workSequence));
      expect(
        Number(await services.redis.zscore(services.keys.workTenants, services.keys.workMark(second, 'normal'))),
      ).toBe(sequence);
      await waitFor(() => counts.get(second) === 1, { timeoutMs: 5_000, message: 'the mark brings the stream back' });
      expect((await post()).json()).toMatchObject({ duplicate: true, eventId: response.json().eventId });
      expect(Number(await services.redis.get(services.keys.workSequence))).toBe(sequence);
    } finally {
      await app.close();
    }
  });

  it('lets every group read every entry, each with its own set of streams with work', async () => {
    const tenant = await newTenant();
    const [context, audit] = [new Map<string, number>(), new Map<string, number>()];
    await startRunner(countingStage('context', context));
    await startRunner(countingStage('audit', audit));
    for (let i = 0; i < 50; i++) {
      await appendEvent(t.services, receivedEvent(tenant, `G-${i}`));
      if (i % 10 === 0) await waitFor(() => context.get(tenant) === i + 1);
    }
    await waitFor(() => context.get(tenant) === 50 && audit.get(tenant) === 50);
  });

  it('loses no entry appended as its stream is dropped for having nothing (300 rounds)', async () => {
    const tenants = [await newTenant(), await newTenant(), await newTenant()];
    const counts = new Map<string, number>();
    await startRunner(countingStage('context', counts));
    const sent = new Map<string, number>();
    for (let round = 0; round < 300; round++) {
      const tenant = tenants[round % tenants.length]!;
      sent.set(tenant, (sent.get(tenant) ?? 0) + 1);
      await appendEvent(t.services, receivedEvent(tenant, `R-${round}`));
      // No wait on odd rounds: the next append races the read that empties the stream.
      if (round % 2 === 0)
        await waitFor(() => counts.get(tenant) === sent.get(tenant), {
          timeoutMs: 3_000,
          intervalMs: 1,
          message: `round ${round}: the entry is handled without a full read`,
        });
    }
    await waitFor(() => tenants.every((tenant) => counts.get(tenant) === sent.get(tenant)), { timeoutMs: 3_000 });
  });

  it('a mark names a lane: appends to the normal lane send no read to the empty priority lane', async () => {
    const tenant = await newTenant();
    const counts = new Map<string, number>();
    const { reads } = await startRunner(countingStage('context', counts));
    const { redis, keys } = t.services;
    await appendEvent(t.services, receivedEvent(tenant, 'L-0'));
    await waitFor(() => counts.get(tenant) === 1);
    const before = reads.length;
    for (let i = 1; i <= 20; i++) {
      await appendEvent(t.services, receivedEvent(tenant, `L-${i}`));
      await waitFor(() => counts.get(tenant) === i + 1, { intervalMs: 1 });
    }
    expect(reads.slice(before).some((named) => named.includes(keys.priorityEvents(tenant)))).toBe(false);
    // A priority append marks its lane; a bare tenant id (an older writer's mark) still means both lanes.
    await redis.xadd(keys.priorityEvents(tenant), '*', ...encodeEvent(receivedEvent(tenant, 'P-1')));
    await markWork(redis, keys, [keys.workMark(tenant, 'priority')]);
    await waitFor(() => counts.get(tenant) === 22, { timeoutMs: 5_000 });
    await redis.xadd(keys.priorityEvents(tenant), '*', ...encodeEvent(receivedEvent(tenant, 'P-2')));
    await markWork(redis, keys, [tenant]);
    await waitFor(() => counts.get(tenant) === 23, { timeoutMs: 5_000 });
  });

  it('finds an entry appended without a mark with its next full read', async () => {
    const tenant = await newTenant();
    const counts = new Map<string, number>();
    await startRunner(countingStage('context', counts), { fullReadMs: 300 });
    const { redis, keys } = t.services;
    await redis.xadd(keys.events(tenant), '*', ...encodeEvent(receivedEvent(tenant, 'U-1')));
    await waitFor(() => counts.get(tenant) === 1, { timeoutMs: 5_000 });
  });
});
