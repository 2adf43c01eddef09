import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StreamdeskError } from '../../src/errors.js';
import { encodeEvent, fieldsToRecord } from '../../src/events.js';
import { toDelivery, type Delivery } from '../../src/streams/delivery.js';
import { noopObserver } from '../../src/streams/observer.js';
import type { Outcome } from '../../src/streams/processor.js';
import { settleBatch, type Settler } from '../../src/streams/settle.js';
import { createTestEnv, type TestEnv } from '../support/env.js';
import { receivedEvent } from '../support/events.js';

let t: TestEnv;
let tenantNo = 0;

beforeAll(async () => {
  t = await createTestEnv();
});
afterAll(async () => {
  await t?.cleanup();
});

const group = 'context';
const emptyContext = { context: { similarTickets: [], assets: [], unmatchedIps: [], kbArticles: [] } };
const gathered: Outcome = { ok: true, emit: [{ type: 'ticket.context_gathered', data: emptyContext }] };

function settler(consumer: string, emitsFailures = false): Settler {
  const { redis, keys } = t.services;
  return {
    redis,
    keys,
    group,
    consumer,
    emittedTtlSeconds: 3_600,
    policy: { maxAttempts: 3, baseMs: 10, maxMs: 100, claimIdleMs: 30_000 },
    emitsFailures,
    observer: noopObserver,
    logger: pino({ level: 'silent' }),
  };
}

/** A tenant whose stream holds `count` received events, all read (so pending) by consumer `me`. */
async function readByMe(count: number): Promise<{ tenant: string; stream: string; deliveries: Delivery[] }> {
  const { redis, keys } = t.services;
  const tenant = `settle-${++tenantNo}`;
  const stream = keys.events(tenant);
  const pipeline = redis.pipeline();
  for (let i = 0; i < count; i++) pipeline.xadd(stream, '*', ...encodeEvent(receivedEvent(tenant, `T-${i}`)));
  await pipeline.exec();
  await redis.xgroup('CREATE', stream, group, '0');
  const reply = (await redis.xreadgroup('GROUP', group, 'me', 'COUNT', count, 'STREAMS', stream, '>')) as [
    string,
    [string, string[]][],
  ][];
  const deliveries = reply[0]![1].map(([id, fields]) => toDelivery(keys, stream, { id, fields, deliveries: 1 }));
  return { tenant, stream, deliveries };
}

async function pendingOwners(stream: string): Promise<Map<string, string>> {
  const pending = (await t.services.redis.xpending(stream, group, '-', '+', 10_000)) as [string, string][];
  return new Map(pending.map(([id, consumer]) => [id, consumer]));
}

/** The follow-on events in the stream, by the stream id of the entry that caused them. */
async function followOnsByCause(stream: string, deliveries: readonly Delivery[]): Promise<Map<string, number>> {
  const byEventId = new Map(deliveries.map((delivery) => [delivery.event!.id, delivery.streamId]));
  const entries = (await t.services.redis.xrange(stream, '-', '+')) as [string, string[]][];
  const counts = new Map<string, number>();
  for (const [, fields] of entries) {
    const { type, causation } = fieldsToRecord(fields);
    if (type !== 'ticket.context_gathered') continue;
    const cause = byEventId.get(causation!)!;
    counts.set(cause, (counts.get(cause) ?? 0) + 1);
  }
  return counts;
}

describe('settling a batch in one script', () => {
  for (const [name, pendingBeside] of [
    ['the consumer holds few other entries', 3],
    ["the consumer holds more entries in the batch's range than one ownership query returns", 250],
  ] as const) {
    it(`acknowledges and emits only what the consumer still owns (${name})`, async () => {
      const { stream, deliveries } = await readByMe(pendingBeside);
      const batch = [deliveries[0]!, deliveries[1]!, deliveries.at(-1)!];
      // Another consumer took the middle entry over while this one worked on it.
      await t.services.redis.xclaim(stream, group, 'other', 0, batch[1]!.streamId);
      const { settled, retry } = await settleBatch(
        settler('me'),
        batch,
        batch.map(() => gathered),
      );
      expect(retry).toEqual([]);
      expect(settled.map((delivery) => delivery.streamId)).toEqual(batch.map((delivery) => delivery.streamId));
      const owners = await pendingOwners(stream);
      expect(owners.has(batch[0]!.streamId)).toBe(false);
      expect(owners.has(batch[2]!.streamId)).toBe(false);
      expect(owners.get(batch[1]!.streamId)).toBe('other');
      // Entries outside the batch stay pending on this consumer.
      expect(owners.size).toBe(pendingBeside - 2);
      const followOns = await followOnsByCause(stream, deliveries);
      expect(Object.fromEntries(followOns)).toEqual({ [batch[0]!.streamId]: 1, [batch[2]!.streamId]: 1 });
    });
  }

  it('a batch that fails half-way acknowledges nothing, and settling it again emits each follow-on once', async () => {
    const { tenant, stream, deliveries } = await readByMe(3);
    const { redis, keys } = t.services;
    const poison: Outcome = {
      ok: false,
      error: new StreamdeskError('INVALID_EVENT', 'not a ticket', undefined, { retryable: false }),
    };
    const outcomes = [gathered, poison, gathered];
    // The dead letter's XADD fails (the key holds a string): the first entry's follow-on is appended by then.
    await redis.set(keys.dlq(tenant), 'not a stream');
    const failed = await settleBatch(settler('me'), deliveries, outcomes);
    expect(failed.settled).toEqual([]);
    expect(failed.retry.map((delivery) => delivery.streamId)).toEqual(deliveries.map((d) => d.streamId));
    expect((await pendingOwners(stream)).size).toBe(3);
    expect(Object.fromEntries(await followOnsByCause(stream, deliveries))).toEqual({
      [deliveries[0]!.streamId]: 1,
    });
    // The id sequence recorded the id given out before the failure: the next append follows it.
    const [last] = (await redis.xrevrange(stream, '+', '-', 'COUNT', 1)) as [string, string[]][];
    expect(await redis.get(keys.laneSequence(tenant))).toBe(last![0]);

    await redis.del(keys.dlq(tenant));
    const again = await settleBatch(settler('me'), deliveries, outcomes);
    expect(again.retry).toEqual([]);
    expect((await pendingOwners(stream)).size).toBe(0);
    expect(Object.fromEntries(await followOnsByCause(stream, deliveries))).toEqual({
      [deliveries[0]!.streamId]: 1,
      [deliveries[2]!.streamId]: 1,
    });
    expect(await redis.xlen(keys.dlq(tenant))).toBe(1);
  });
});
