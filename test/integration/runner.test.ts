import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { stageProcessor, type AnyStage, type Stage } from '../../src/consumers/stage.js';
import { StreamdeskError } from '../../src/errors.js';
import { listDeadLetters, redriveDeadLetters } from '../../src/streams/dlq.js';
import { toRecord } from '../../src/streams/reply.js';
import { StreamRunner, type RunnerOptions } from '../../src/streams/runner.js';
import { deleteTenant } from '../../src/tenants/purge.js';
import { createTestEnv, waitFor, type TestEnv } from '../support/env.js';
import { appendEvent, pendingCount, readStream, receivedEvent } from '../support/events.js';

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

/** A fresh tenant per test, so streams and groups never mix between tests. */
async function newTenant(): Promise<string> {
  const id = `tenant-${++tenantNo}`;
  await t.services.registry.create({ id });
  return id;
}

function contextStage(
  handle: Stage<'ticket.received'>['handle'],
  overrides: Partial<Stage<'ticket.received'>> = {},
): Stage<'ticket.received'> {
  return { name: 'context', handles: ['ticket.received'], handle, ...overrides };
}

const emptyContext = { context: { similarTickets: [], assets: [], unmatchedIps: [], kbArticles: [] } };

async function startRunner(stage: AnyStage, overrides: Partial<RunnerOptions> = {}): Promise<StreamRunner> {
  const { services } = t;
  const runner = new StreamRunner({
    redis: services.redis,
    blockingRedis: services.blockingRedis(),
    keys: services.keys,
    processor: stageProcessor(stage, services.logger),
    retry: { maxAttempts: 3, baseMs: 60, maxMs: 1_000, claimIdleMs: 400 },
    emittedTtlSeconds: 3_600,
    logger: services.logger,
    blockMs: 100,
    tenantRefreshMs: 100,
    ...overrides,
  });
  runners.push(runner);
  await runner.start();
  return runner;
}

const followOns = async (tenant: string, type: string) =>
  (await readStream(t.services, tenant)).filter(([, fields]) => fields.type === type);

describe('stream runner', () => {
  it('stops reading a deleted tenant, so its purged stream is not recreated, and keeps serving the others', async () => {
    const [doomed, kept] = [await newTenant(), await newTenant()];
    await startRunner(contextStage(async () => [{ type: 'ticket.context_gathered', data: emptyContext }]));
    await appendEvent(t.services, receivedEvent(doomed, 'GONE-1'));
    await waitFor(async () => (await followOns(doomed, 'ticket.context_gathered')).length === 1);
    const { registry, redis, keys, db } = t.services;
    await deleteTenant({ registry, redis, keys, db }, doomed, { purge: true });
    await appendEvent(t.services, receivedEvent(kept, 'KEPT-1'));
    await waitFor(async () => (await followOns(kept, 'ticket.context_gathered')).length === 1);
    expect(await redis.exists(keys.events(doomed))).toBe(0);
  });

  it('emits the follow-on event and acknowledges the input in one step, with an id derived from the input', async () => {
    const tenant = await newTenant();
    await startRunner(contextStage(async () => [{ type: 'ticket.context_gathered', data: emptyContext }]));
    const input = receivedEvent(tenant, 'T-1');
    await appendEvent(t.services, input);
    const [[, emitted] = ['', {} as Record<string, string>]] = await waitFor(async () => {
      const found = await followOns(tenant, 'ticket.context_gathered');
      return found.length === 1 ? found : undefined;
    });
    expect(emitted).toMatchObject({
      causation: input.id,
      correlation: input.correlation,
      tenant,
      ticket: 'T-1',
      traceparent: input.traceparent,
    });
    expect(emitted!.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8/);
    await waitFor(async () => (await pendingCount(t.services, tenant, 'context')) === 0);
  });

  it('retries a failing handler with exponential backoff and succeeds on the third delivery', async () => {
    const tenant = await newTenant();
    const calls: { at: number; attempt: number }[] = [];
    await startRunner(
      contextStage(async (_event, ctx) => {
        calls.push({ at: performance.now(), attempt: ctx.attempt });
        if (calls.length <= 2) throw new Error(`flaky dependency (call ${calls.length})`);
        return [{ type: 'ticket.context_gathered', data: emptyContext }];
      }),
    );
    await appendEvent(t.services, receivedEvent(tenant, 'T-flaky'));
    await waitFor(async () => (await followOns(tenant, 'ticket.context_gathered')).length === 1);
    expect(calls.map((call) => call.attempt)).toEqual([1, 2, 3]);
    // Minimum backoff: baseMs after the first failure, 2 × baseMs after the second.
    expect(calls[1]!.at - calls[0]!.at).toBeGreaterThanOrEqual(60 - 5);
    expect(calls[2]!.at - calls[1]!.at).toBeGreaterThanOrEqual(120 - 5);
    await waitFor(async () => (await pendingCount(t.services, tenant, 'context')) === 0);
    expect(await listDeadLetters(t.services.redis, t.services.keys, tenant)).toEqual([]);
    expect(await t.services.redis.hlen(t.services.keys.retryState(tenant, 'context'))).toBe(0);
  });

  it('dead-letters a poison event after maxAttempts while other tickets flow, and a redrive after the fix completes it once', async () => {
    const tenant = await newTenant();
    let fixed = false;
    const calls = new Map<string, number>();
    await startRunner(
      contextStage(async (event) => {
        calls.set(event.ticket, (calls.get(event.ticket) ?? 0) + 1);
        if (event.ticket === 'POISON' && !fixed) throw new Error('cannot parse the description');
        return [{ type: 'ticket.context_gathered', data: emptyContext }];
      }),
    );
    // Another group reading the same events: a redrive must not run it again.
    let audited = 0;
    const audit: Stage<'ticket.received'> = {
      name: 'audit',
      handles: ['ticket.received'],
      handle: async (event) => {
        if (event.ticket === 'POISON') audited += 1;
        return [];
      },
    };
    await startRunner(audit);
    await appendEvent(t.services, receivedEvent(tenant, 'POISON'));
    for (let i = 0; i < 20; i++) await appendEvent(t.services, receivedEvent(tenant, `OK-${i}`));
    await waitFor(async () => (await followOns(tenant, 'ticket.context_gathered')).length === 20, {
      message: 'healthy tickets flowed',
    });
    const [letter] = await waitFor(async () => {
      const letters = await listDeadLetters(t.services.redis, t.services.keys, tenant);
      return letters.length === 1 ? letters : undefined;
    });
    expect(letter).toMatchObject({
      group: 'context',
      code: 'HANDLER_FAILED',
      message: 'cannot parse the description',
      attempts: 3,
    });
    expect(letter!.event.ticket).toBe('POISON');
    expect(Date.parse(letter!.lastFailedAt)).toBeGreaterThanOrEqual(Date.parse(letter!.firstFailedAt));
    expect(calls.get('POISON')).toBe(3);
    const [[, failed] = ['', {} as Record<string, string>]] = await followOns(tenant, 'ticket.failed');
    expect(JSON.parse(failed.data ?? 'null')).toMatchObject({
      stage: 'context',
      error: { code: 'HANDLER_FAILED' },
      attempts: 3,
    });
    await waitFor(async () => (await pendingCount(t.services, tenant, 'context')) === 0);

    fixed = true;
    expect(await redriveDeadLetters(t.services.redis, t.services.keys, tenant)).toEqual({ redriven: 1, missing: [] });
    await waitFor(async () =>
      (await followOns(tenant, 'ticket.context_gathered')).some(([, fields]) => fields.ticket === 'POISON'),
    );
    expect(calls.get('POISON')).toBe(4);
    // The audit group has read everything, the redriven copy included, and acknowledged it.
    await waitFor(async () => {
      const groups = (await t.services.redis.xinfo('GROUPS', t.services.keys.events(tenant))) as unknown[][];
      const audit = groups.map((group) => toRecord(group)).find((group) => group.name === 'audit')!;
      return audit.lag === 0 && audit.pending === 0;
    });
    expect(audited).toBe(1);
    expect(await listDeadLetters(t.services.redis, t.services.keys, tenant)).toEqual([]);
    // A second redrive finds nothing to do.
    expect(await redriveDeadLetters(t.services.redis, t.services.keys, tenant)).toEqual({ redriven: 0, missing: [] });
    expect(
      (await followOns(tenant, 'ticket.context_gathered')).filter(([, fields]) => fields.ticket === 'POISON'),
    ).toHaveLength(1);
  });

  it("waits at least as long as a peer's Retry-After before the next attempt", async () => {
    const tenant = await newTenant();
    const calls: number[] = [];
    await startRunner(
      contextStage(async () => {
        calls.push(performance.now());
        if (calls.length === 1)
          throw new StreamdeskError('LLM_RATE_LIMITED', 'slow down', undefined, { retryAfterMs: 400 });
        return [{ type: 'ticket.context_gathered', data: emptyContext }];
      }),
    );
    await appendEvent(t.services, receivedEvent(tenant, 'T-429'));
    await waitFor(async () => (await followOns(tenant, 'ticket.context_gathered')).length === 1);
    expect(calls).toHaveLength(2);
    expect(calls[1]! - calls[0]!).toBeGreaterThanOrEqual(400 - 5);
  });

  it('dead-letters a permanent error at once', async () => {
    const tenant = await newTenant();
    let calls = 0;
    await startRunner(
      contextStage(async () => {
        calls += 1;
        throw new StreamdeskError('LLM_REJECTED', 'model refused the request');
      }),
    );
    await appendEvent(t.services, receivedEvent(tenant, 'T-perm'));
    const letters = await waitFor(async () => {
      const found = await listDeadLetters(t.services.redis, t.services.keys, tenant);
      return found.length === 1 ? found : undefined;
    });
    expect(letters[0]).toMatchObject({ code: 'LLM_REJECTED', attempts: 1 });
    expect(calls).toBe(1);
  });

  it('dead-letters corrupt entries and unknown event versions with a reason, without calling the handler', async () => {
    const tenant = await newTenant();
    let calls = 0;
    await startRunner(
      contextStage(async () => {
        calls += 1;
        return [];
      }),
    );
    await t.services.redis.xadd(
      t.services.keys.events(tenant),
      '*',
      'id',
      'not-a-uuid',
      'type',
      'ticket.received',
      'data',
      '{',
    );
    await appendEvent(t.services, receivedEvent(tenant, 'T-v9', { v: 9 }));
    const letters = await waitFor(async () => {
      const found = await listDeadLetters(t.services.redis, t.services.keys, tenant);
      return found.length === 2 ? found : undefined;
    });
    expect(letters.map((letter) => letter.code).sort()).toEqual(['INVALID_EVENT', 'UNKNOWN_EVENT_VERSION']);
    expect(letters.find((letter) => letter.code === 'UNKNOWN_EVENT_VERSION')!.message).toContain('v9');
    expect(calls).toBe(0);
    await waitFor(async () => (await pendingCount(t.services, tenant, 'context')) === 0);
  });

  it("takes over a dead consumer's pending entries once they are idle past the claim timeout", async () => {
    const tenant = await newTenant();
    const stream = t.services.keys.events(tenant);
    await t.services.redis.xgroup('CREATE', stream, 'context', '0', 'MKSTREAM');
    await appendEvent(t.services, receivedEvent(tenant, 'T-orphan'));
    // A consumer that read the entry and died before acknowledging it.
    await t.services.redis.xreadgroup('GROUP', 'context', 'dead-consumer', 'COUNT', 10, 'STREAMS', stream, '>');
    const started = Date.now();
    await startRunner(contextStage(async () => [{ type: 'ticket.context_gathered', data: emptyContext }]));
    await waitFor(async () => (await followOns(tenant, 'ticket.context_gathered')).length === 1, {
      message: 'orphan reclaimed',
    });
    expect(Date.now() - started).toBeGreaterThanOrEqual(400 - 50);
    await waitFor(async () => (await pendingCount(t.services, tenant, 'context')) === 0);
  });

  it("keeps a live consumer's long-running entry from being taken over", async () => {
    const tenant = await newTenant();
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const handledBy: string[] = [];
    // A claim timeout long enough that a busy test machine cannot make a live consumer look dead.
    const retry = { maxAttempts: 3, baseMs: 60, maxMs: 1_000, claimIdleMs: 900 };
    await startRunner(
      contextStage(async () => {
        handledBy.push('slow');
        await released;
        return [{ type: 'ticket.context_gathered', data: emptyContext }];
      }),
      { retry },
    );
    await appendEvent(t.services, receivedEvent(tenant, 'T-long'));
    await waitFor(() => handledBy.length === 1);
    await startRunner(
      contextStage(async () => {
        handledBy.push('other');
        return [{ type: 'ticket.context_gathered', data: emptyContext }];
      }),
      { retry },
    );
    // Time itself is the condition here: three claim timeouts must pass while the handler works.
    await new Promise((resolve) => setTimeout(resolve, 3 * 900 + 100));
    release();
    await waitFor(async () => (await followOns(tenant, 'ticket.context_gathered')).length === 1);
    expect(handledBy).toEqual(['slow']);
  });

  it('removes consumers that have been idle past the limit with nothing pending, and keeps those holding entries', async () => {
    const tenant = await newTenant();
    const stream = t.services.keys.events(tenant);
    await t.services.redis.xgroup('CREATE', stream, 'context', '0', 'MKSTREAM');
    await t.services.redis.xgroup('CREATECONSUMER', stream, 'context', 'long-gone');
    await appendEvent(t.services, receivedEvent(tenant, 'T-held'));
    // A dead consumer still holding an entry: removing it would lose the entry.
    await t.services.redis.xreadgroup('GROUP', 'context', 'dead-holding', 'COUNT', 1, 'STREAMS', stream, '>');
    const consumers = async () =>
      ((await t.services.redis.xinfo('CONSUMERS', stream, 'context')) as unknown[][]).map((consumer) =>
        String(toRecord(consumer).name),
      );
    expect(await consumers()).toEqual(expect.arrayContaining(['long-gone', 'dead-holding']));
    await startRunner(
      contextStage(async () => []),
      { deadConsumerIdleMs: 200, retry: { maxAttempts: 3, baseMs: 60, maxMs: 1_000, claimIdleMs: 60_000 } },
    );
    await waitFor(async () => !(await consumers()).includes('long-gone'), {
      message: 'the idle consumer with nothing pending is removed',
    });
    expect(await consumers()).toContain('dead-holding');
    expect(await pendingCount(t.services, tenant, 'context')).toBe(1);
  });

  it('on stop, finishes in-flight entries and leaves nothing it processed unacknowledged', async () => {
    const tenant = await newTenant();
    let inFlight = 0;
    let handled = 0;
    const runner = await startRunner(
      contextStage(
        async () => {
          inFlight += 1;
          await new Promise((resolve) => setTimeout(resolve, 200));
          inFlight -= 1;
          handled += 1;
          return [{ type: 'ticket.context_gathered', data: emptyContext }];
        },
        { concurrency: 8 },
      ),
    );
    for (let i = 0; i < 30; i++) await appendEvent(t.services, receivedEvent(tenant, `S-${i}`));
    await waitFor(() => inFlight > 0);
    // A deadline far beyond the work in flight: a loaded machine must not turn this into the timeout case.
    await runner.stop(60_000);
    expect(inFlight).toBe(0);
    expect(handled).toBeGreaterThan(0);
    const emitted = await followOns(tenant, 'ticket.context_gathered');
    expect(emitted).toHaveLength(handled);
    // What the stopped consumer held is settled; what it never read is still waiting for the group.
    expect(await pendingCount(t.services, tenant, 'context')).toBe(0);
    const consumers = (await t.services.redis.xinfo(
      'CONSUMERS',
      t.services.keys.events(tenant),
      'context',
    )) as unknown[][];
    expect(consumers.map((consumer) => consumer[consumer.indexOf('name') + 1])).not.toContain(runner.consumer);
  });
});
