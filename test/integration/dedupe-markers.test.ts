import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stageProcessor, type Stage } from '../../src/consumers/stage.js';
import { encodeEvent, type TicketEvent } from '../../src/events.js';
import { appendUnlessSeen, parseSettleReply, queueSettle, type IngestInput } from '../../src/streams/scripts.js';
import { StreamRunner } from '../../src/streams/runner.js';
import { appendAndMarkWork } from '../../src/streams/work.js';
import { followOnEvent } from '../../src/streams/follow-on.js';
import type { FollowOn } from '../../src/streams/processor.js';
import { createTestEnv, waitFor, type TestEnv } from '../support/env.js';
import { appendEvent, readStream, receivedEvent } from '../support/events.js';

let t: TestEnv;
let tenantNo = 0;

beforeAll(async () => {
  t = await createTestEnv();
});
afterAll(async () => {
  await t?.cleanup();
});

const newTenant = () => `markers-${++tenantNo}`;

function ingestInput(tenant: string, event: TicketEvent, deliveryId: string, windowSeconds: number): IngestInput {
  const { keys } = t.services;
  return {
    stream: keys.events(tenant),
    otherLane: keys.priorityEvents(tenant),
    laneSequence: keys.laneSequence(tenant),
    marker: keys.deliverySeen(tenant, deliveryId),
    markerTtlSeconds: windowSeconds,
    eventId: event.id,
    bodyHash: 'ab'.repeat(32),
    fields: encodeEvent(event),
  };
}

/** Appends `source` as a fresh entry, delivers it to one consumer and settles it with one follow-on: how many were appended. */
async function settleWithFollowOn(tenant: string, source: TicketEvent, windowSeconds: number): Promise<number> {
  const { redis, keys } = t.services;
  const lane = keys.events(tenant);
  const streamId = await appendEvent(t.services, source);
  await redis.xgroup('CREATE', lane, 'settler', '0', 'MKSTREAM').catch(() => undefined);
  await redis.xreadgroup('GROUP', 'settler', 'c1', 'COUNT', 100, 'STREAMS', lane, '>');
  const pipeline = redis.pipeline();
  queueSettle(pipeline, {
    lane,
    otherLane: keys.priorityEvents(tenant),
    dlq: keys.dlq(tenant),
    retryRecords: keys.retryState(tenant, 'settler'),
    laneSequence: keys.laneSequence(tenant),
    emittedMarker: (emitted) => keys.eventEmitted(tenant, emitted.ticket, emitted.id),
    group: 'settler',
    consumer: 'c1',
    emittedTtlSeconds: windowSeconds,
    entries: [{ streamId, events: [followOnOf(source)], deadLetter: [] }],
  });
  const replies = await pipeline.exec();
  const [appended] = parseSettleReply(replies?.at(-1)?.[1], 1);
  return typeof appended === 'number' ? appended : -1;
}

const followOnOf = (source: TicketEvent) =>
  followOnEvent(source, gathered, { group: 'settler', index: 0, traceparent: '' });

async function tenantKeys(tenant: string): Promise<string[]> {
  return (await t.services.redis.keys(t.services.keys.tenantKeyPattern(tenant))).sort();
}

const gathered: FollowOn = {
  type: 'ticket.context_gathered',
  data: { context: { similarTickets: [], assets: [], unmatchedIps: [], kbArticles: [] } },
};

/** A stage emitting one follow-on per input, as the context stage does. */
const gatherStage: Stage<'ticket.received'> = {
  name: 'gather',
  handles: ['ticket.received'],
  handle: async () => [gathered],
};

describe('dedupe markers', () => {
  it("keeps a ticket's follow-on markers in one hash that outlives the window", async () => {
    const tenant = newTenant();
    const { redis, keys, logger } = t.services;
    const event = receivedEvent(tenant, 'T-1');
    await redis.sadd(keys.tenantIds, tenant);
    const first = await appendAndMarkWork(redis, keys, tenant, ingestInput(tenant, event, 'delivery-1', 3_600));
    expect(first.outcome).toBe('appended');
    const runners = ['gather', 'gather-again'].map(
      (name) =>
        new StreamRunner({
          redis,
          blockingRedis: t.services.blockingRedis(),
          keys,
          processor: stageProcessor({ ...gatherStage, name }, logger),
          retry: { maxAttempts: 3, baseMs: 60, maxMs: 1_000, claimIdleMs: 5_000 },
          emittedTtlSeconds: 3_600,
          logger,
        }),
    );
    await Promise.all(runners.map((runner) => runner.start()));
    try {
      await waitFor(async () => (await readStream(t.services, tenant)).length === 3, { message: 'the follow-ons' });
    } finally {
      await Promise.all(runners.map((runner) => runner.stop(2_000)));
      await redis.srem(keys.tenantIds, tenant);
    }
    const all = await tenantKeys(tenant);
    const markerKeys = all.filter((key) => key.includes(':marks:'));
    expect(markerKeys).toHaveLength(1);
    expect(markerKeys[0]).toMatch(/:marks:T-1$/);
    const fields = await redis.hgetall(markerKeys[0]!);
    const emitted = ['gather', 'gather-again'].map(
      (group) => `e:${followOnEvent(event, gathered, { group, index: 0, traceparent: '' }).id}`,
    );
    expect(Object.keys(fields).sort()).toEqual(emitted.sort());
    expect(await redis.object('ENCODING', markerKeys[0]!)).toBe('listpack');
    expect(await redis.ttl(markerKeys[0]!)).toBeGreaterThan(3_500);
    expect(all.some((key) => key.includes(':emitted:'))).toBe(false);
    // The delivery marker is the tenant's: a short value, its own key, the window's TTL.
    const seen = keys.deliverySeen(tenant, 'delivery-1').key;
    expect(await redis.get(seen)).toBe(`${event.id} ${'ab'.repeat(12)}`);
    expect(await redis.ttl(seen)).toBeGreaterThan(3_500);
  });

  it('tells a resend from a different body under the same delivery id', async () => {
    const tenant = newTenant();
    const { redis } = t.services;
    const event = receivedEvent(tenant, 'T-2');
    const input = ingestInput(tenant, event, 'delivery-2', 3_600);
    expect((await appendUnlessSeen(redis, input)).outcome).toBe('appended');
    const again = { ...input, eventId: randomUUID() };
    expect(await appendUnlessSeen(redis, again)).toEqual({ outcome: 'duplicate', eventId: event.id });
    expect(await appendUnlessSeen(redis, { ...again, bodyHash: 'cd'.repeat(32) })).toEqual({
      outcome: 'conflict',
      eventId: event.id,
    });
    expect(await redis.xlen(t.services.keys.events(tenant))).toBe(1);
  });

  it('appends a follow-on once however often its input is settled again', async () => {
    const tenant = newTenant();
    const source = receivedEvent(tenant, 'T-5');
    expect(await settleWithFollowOn(tenant, source, 3_600)).toBe(1);
    // The same event again (a redrive, or a second append of it): its follow-on is a repeat.
    expect(await settleWithFollowOn(tenant, source, 3_600)).toBe(0);
    expect(await t.services.redis.xlen(t.services.keys.events(tenant))).toBe(3);
  });

  it('still honours the string-key markers written before markers were folded', async () => {
    const tenant = newTenant();
    const { redis, keys } = t.services;
    const event = receivedEvent(tenant, 'T-3');
    const input = ingestInput(tenant, event, 'delivery-3', 3_600);
    const earlier = randomUUID();
    // Delivery markers then held the whole hash of the body.
    await redis.set(input.marker.key, `${earlier} ${'ab'.repeat(32)}`, 'EX', 3_600);
    expect(await appendUnlessSeen(redis, input)).toEqual({ outcome: 'duplicate', eventId: earlier });
    expect(await appendUnlessSeen(redis, { ...input, bodyHash: 'cd'.repeat(32) })).toEqual({
      outcome: 'conflict',
      eventId: earlier,
    });
    const source = receivedEvent(tenant, 'T-3', { id: randomUUID() });
    await redis.set(keys.eventEmitted(tenant, 'T-3', followOnOf(source).id).legacyKey, '1', 'EX', 3_600);
    expect(await settleWithFollowOn(tenant, source, 3_600)).toBe(0);
    expect(await redis.xlen(keys.events(tenant))).toBe(1);
  });

  it('keeps a follow-on marker for the window and lets it go once the window has passed', async () => {
    const tenant = newTenant();
    const { redis, keys } = t.services;
    const source = receivedEvent(tenant, 'T-4');
    const followOn = followOnOf(source);
    // A two-second window. Appended as a stage replay appends.
    const input: IngestInput = {
      ...ingestInput(tenant, followOn, '', 2),
      marker: keys.eventEmitted(tenant, 'T-4', followOn.id),
      bodyHash: '',
    };
    const redisSeconds = async () => Number((await redis.time())[0]);
    const setAt = await redisSeconds();
    expect((await appendUnlessSeen(redis, input)).outcome).toBe('appended');
    expect(await appendUnlessSeen(redis, input)).toEqual({ outcome: 'duplicate', eventId: followOn.id });
    await waitFor(async () => (await redis.exists(input.marker.key)) === 0, { message: 'the marker hash to expire' });
    expect(await redisSeconds()).toBeGreaterThanOrEqual(setAt + 2);
    expect((await appendUnlessSeen(redis, input)).outcome).toBe('appended');
  });

  it("drops a long-lived ticket's markers older than the window, and keeps the younger ones", async () => {
    const tenant = newTenant();
    const { redis, keys } = t.services;
    const key = keys.eventEmitted(tenant, 'T-6', 'x').key;
    const now = Number((await redis.time())[0]);
    // 40 markers of a ticket that has lived for weeks: 30 set long ago, 10 within the window.
    for (let i = 0; i < 40; i++) await redis.hset(key, `e:old-${i}`, `1 ${i < 30 ? now - 30 * 86_400 : now - 60}`);
    const source = receivedEvent(tenant, 'T-6');
    expect(await settleWithFollowOn(tenant, source, 3_600)).toBe(1);
    const fields = Object.keys(await redis.hgetall(key));
    expect(fields).toHaveLength(11);
    expect(fields).toContain(`e:${followOnOf(source).id}`);
    expect(fields.filter((field) => field.startsWith('e:old-')).sort()).toEqual(
      Array.from({ length: 10 }, (_, i) => `e:old-${30 + i}`).sort(),
    );
    expect(await redis.ttl(key)).toBeGreaterThan(3_500);
  });
});
