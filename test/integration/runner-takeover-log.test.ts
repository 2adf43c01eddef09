import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stageProcessor, type Stage } from '../../src/consumers/stage.js';
import { StreamRunner } from '../../src/streams/runner.js';
import { createTestEnv, waitFor, type TestEnv } from '../support/env.js';
import { appendEvent, pendingCount, receivedEvent } from '../support/events.js';

let t: TestEnv;

beforeAll(async () => {
  t = await createTestEnv();
});
afterAll(async () => {
  await t?.cleanup();
});

const takeoverWarning = 'entries were taken over by another consumer';
const emptyContext = { context: { similarTickets: [], assets: [], unmatchedIps: [], kbArticles: [] } };

/** A logger that keeps every line it writes. */
function capturingLogger() {
  const lines: { msg: string; entries?: string[] }[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  return { logger, lines, count: (msg: string) => lines.filter((line) => line.msg === msg).length };
}

async function startRunner(
  tenant: string,
  handle: Stage<'ticket.received'>['handle'],
  logger: pino.Logger,
  claimIdleMs: number,
  consumerName: string,
) {
  await t.services.registry.create({ id: tenant });
  const stage: Stage<'ticket.received'> = { name: 'context', handles: ['ticket.received'], handle, concurrency: 16 };
  const runner = new StreamRunner({
    redis: t.services.redis,
    blockingRedis: t.services.blockingRedis(),
    keys: t.services.keys,
    processor: stageProcessor(stage, logger),
    retry: { maxAttempts: 3, baseMs: 20, maxMs: 200, claimIdleMs },
    emittedTtlSeconds: 3_600,
    logger,
    blockMs: 50,
    tenantRefreshMs: 50,
    consumerName,
  });
  await runner.start();
  return runner;
}

describe('takeover warnings', () => {
  it('a healthy run, with entries touched while they settle, logs no takeover', async () => {
    const { logger, count } = capturingLogger();
    // Touches every 50 ms while 400 entries settle all the time: the touch often names entries
    // that were acknowledged a moment before it ran.
    const runner = await startRunner(
      'healthy',
      async () => {
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 10));
        return [{ type: 'ticket.context_gathered', data: emptyContext }];
      },
      logger,
      150,
      'healthy-consumer',
    );
    try {
      for (let i = 0; i < 400; i++) await appendEvent(t.services, receivedEvent('healthy', `H-${i}`));
      await waitFor(
        async () => {
          const [info] = (await t.services.redis.xinfo('GROUPS', t.services.keys.events('healthy'))) as unknown[][];
          const lag = info ? Number(info[info.indexOf('lag') + 1]) : -1;
          return lag === 0 && (await pendingCount(t.services, 'healthy', 'context')) === 0;
        },
        { timeoutMs: 60_000, message: 'every entry settled' },
      );
    } finally {
      await runner.stop(2_000);
    }
    expect(count(takeoverWarning)).toBe(0);
  });

  it('a real takeover is reported once, and the late result is dropped', async () => {
    const { logger, lines, count } = capturingLogger();
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let started!: () => void;
    const handlerStarted = new Promise<void>((resolve) => (started = resolve));
    const runner = await startRunner(
      'taken',
      async () => {
        started();
        await released;
        return [{ type: 'ticket.context_gathered', data: emptyContext }];
      },
      logger,
      3_000,
      'slow-consumer',
    );
    try {
      const entry = await appendEvent(t.services, receivedEvent('taken', 'T-1'));
      await handlerStarted;
      const stream = t.services.keys.events('taken');
      await t.services.redis.xclaim(stream, 'context', 'intruder', 0, entry, 'JUSTID');
      await waitFor(() => count(takeoverWarning) === 1, { message: 'the takeover reported' });
      expect(lines.find((line) => line.msg === takeoverWarning)?.entries).toEqual([entry]);
      // Several more touch rounds (each follows a heartbeat) while the handler still runs; the
      // intruder stays alive meanwhile, so the entry is not taken back.
      const beat = async () => Number(await t.services.redis.zscore(t.services.keys.consumersSeen, 'slow-consumer'));
      for (let round = 0; round < 3; round++) {
        const before = await beat();
        await waitFor(async () => (await beat()) > before, { message: 'another heartbeat' });
        await t.services.redis.xclaim(stream, 'context', 'intruder', 0, entry, 'JUSTID');
      }
      release();
      await waitFor(
        () => lines.some((line) => line.msg.startsWith('entry was taken over by another consumer; result dropped')),
        { message: 'late result dropped' },
      );
      expect(count(takeoverWarning)).toBe(1);
      // The entry still belongs to the consumer that took it.
      const pending = (await t.services.redis.xpending(stream, 'context', '-', '+', 10)) as [string, string][];
      expect(pending.map(([, owner]) => owner)).toEqual(['intruder']);
    } finally {
      release();
      await runner.stop(2_000);
    }
  });
});
