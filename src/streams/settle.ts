import type { Logger } from 'pino';
import type { Delivery } from './delivery.js';
import type { RedisKeys } from './keys.js';
import type { RunnerObserver } from './observer.js';
import { classifyAll, type Decision } from './outcomes.js';
import type { Outcome, RetryPolicy } from './processor.js';
import type { RedisClient } from './redis.js';
import { encodeRetryRecord } from './retry-records.js';
import {
  parseMarkWorkReply,
  parseSettleReply,
  queueSettle,
  type SettleEntry,
  type SettleInput,
  type SettleResult,
} from './scripts.js';
import { queueMarkWork } from './work.js';

/** What settling a batch needs of its runner. */
export type Settler = Readonly<{
  redis: RedisClient;
  keys: RedisKeys;
  group: string;
  consumer: string;
  emittedTtlSeconds: number;
  policy: RetryPolicy;
  emitsFailures: boolean;
  observer: RunnerObserver;
  logger: Logger;
}>;

type Pipeline = ReturnType<RedisClient['pipeline']>;

/**
 * Settles a batch of one lane of a tenant as `classifyAll` decides: one pipeline records the
 * retries and runs settle.lua for what is acknowledged or dead-lettered. Returns the deliveries
 * settled and those to run again after a backoff (failures, and everything when settling failed:
 * those entries stay pending).
 */
export async function settleBatch(
  settler: Settler,
  deliveries: readonly Delivery[],
  outcomes: readonly Outcome[],
): Promise<{ settled: Delivery[]; retry: Delivery[] }> {
  const { redis, group, policy, emitsFailures } = settler;
  const pipeline = redis.pipeline();
  const decisions = classifyAll(deliveries, outcomes, { group, policy, emitsFailures, now: Date.now() });
  const toSettle: { delivery: Delivery; entry: SettleEntry }[] = [];
  const retry: Delivery[] = [];
  deliveries.forEach((delivery, index) => {
    const decision = decisions[index]!;
    const entry = apply(settler, pipeline, delivery, decision);
    if (entry) toSettle.push({ delivery, entry });
    else retry.push(delivery);
  });
  const settleAt = pipeline.length;
  if (toSettle.length > 0) queueSettle(pipeline, settleInput(settler, deliveries[0]!, toSettle));
  // The mark rides in the same round trip, after the appends; an extra mark (nothing appended after all) only wakes readers.
  const marked =
    toSettle.some(({ entry }) => entry.events.length > 0) &&
    queueMarkWork(pipeline, redis, settler.keys, [settler.keys.workMark(deliveries[0]!.tenant, deliveries[0]!.lane)]);
  const replies = await run(settler, deliveries[0]!.tenant, pipeline);
  if (toSettle.length === 0) return { settled: [], retry };
  const results = replies && settleResults(settler, deliveries[0]!.tenant, replies[settleAt], toSettle.length);
  if (!results) return { settled: [], retry: [...retry, ...toSettle.map(({ delivery }) => delivery)] };
  toSettle.forEach(({ delivery }, index) => {
    if (results[index] === 'taken-over')
      settler.logger.warn(
        { group, tenant: delivery.tenant, entry: delivery.streamId },
        'entry was taken over by another consumer; result dropped',
      );
  });
  if (marked) checkMark(settler, deliveries[0]!.tenant, replies[settleAt + 1]);
  return { settled: toSettle.map(({ delivery }) => delivery), retry };
}

/** Applies a decision to the delivery (and a retry record to the pipeline); what settle.lua is to do with it, if anything. */
function apply(settler: Settler, pipeline: Pipeline, delivery: Delivery, decision: Decision): SettleEntry | undefined {
  const { group, keys, logger, observer } = settler;
  const { tenant, streamId } = delivery;
  if (decision.action === 'ack') return { streamId, events: decision.events, deadLetter: [] };
  delivery.retryAfterMs = decision.retryAfterMs;
  observer.failed(group, tenant, decision.code);
  const about = { group, tenant, entry: streamId, code: decision.code, error: decision.message };
  if (decision.action === 'wait') {
    delivery.outages += 1;
    logger.warn(
      about,
      "not the entry's fault (an outage, a rate limit or a budget); will retry without using an attempt",
    );
    return undefined;
  }
  delivery.outages = 0;
  if (decision.action === 'retry') {
    pipeline.hset(keys.retryState(tenant, group), streamId, encodeRetryRecord(decision.record));
    logger.warn({ ...about, eventId: delivery.event?.id, attempt: decision.failures }, 'handler failed; will retry');
    Object.assign(delivery, { failures: decision.failures, firstFailedAt: decision.firstFailedAt });
    return undefined;
  }
  logger.error({ ...about, eventId: delivery.event?.id, attempts: decision.attempts }, 'entry dead-lettered');
  observer.deadLettered(group, tenant, decision.code);
  return { streamId, events: decision.events, deadLetter: decision.deadLetter };
}

function settleInput(
  settler: Settler,
  { tenant, lane }: Delivery,
  toSettle: readonly { entry: SettleEntry }[],
): SettleInput {
  const { keys, group, consumer, emittedTtlSeconds } = settler;
  return {
    lane: keys.lane(tenant, lane),
    otherLane: keys.otherLane(tenant, lane),
    dlq: keys.dlq(tenant),
    retryRecords: keys.retryState(tenant, group),
    laneSequence: keys.laneSequence(tenant),
    emittedMarker: (event) => keys.eventEmitted(tenant, event.ticket, event.id),
    group,
    consumer,
    emittedTtlSeconds,
    entries: toSettle.map(({ entry }) => entry),
  };
}

type Reply = [Error | null, unknown] | undefined;

/** Runs the pipeline; its replies, or undefined when it failed as a whole (logged). */
async function run(settler: Settler, tenant: string, pipeline: Pipeline): Promise<Reply[] | undefined> {
  try {
    return (await pipeline.exec()) ?? undefined;
  } catch (error) {
    settlingFailed(settler, tenant, error);
    return undefined;
  }
}

/** settle.lua's results, or undefined when settling failed (logged): the entries stay pending. */
function settleResults(settler: Settler, tenant: string, reply: Reply, settling: number): SettleResult[] | undefined {
  const [error, value] = reply ?? [new Error('no reply'), null];
  try {
    if (error) throw error;
    return parseSettleReply(value, settling);
  } catch (failure) {
    settlingFailed(settler, tenant, failure);
    return undefined;
  }
}

function settlingFailed(settler: Settler, tenant: string, error: unknown): void {
  settler.logger.warn(
    { err: error, group: settler.group, tenant },
    'settling failed; entries stay pending and are retried',
  );
}

function checkMark(settler: Settler, tenant: string, reply: Reply): void {
  const [error, value] = reply ?? [new Error('no reply'), null];
  try {
    if (error) throw error;
    parseMarkWorkReply(value);
  } catch (failure) {
    settler.logger.warn(
      { err: failure, group: settler.group, tenant },
      'marking follow-on work failed; a full read finds it',
    );
  }
}
