import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stageProcessor, type Stage } from '../../src/consumers/stage.js';
import { StreamdeskError } from '../../src/errors.js';
import { encodeEvent } from '../../src/events.js';
import type { Projection } from '../../src/projections/projection.js';
import { ticketsProjection } from '../../src/projections/tickets.js';
import { rebuildProjection } from '../../src/replay/rebuild.js';
import { replayStage, type StageReplayOptions } from '../../src/replay/stage-replay.js';
import { startRole, type RunningRole } from '../../src/runtime/roles.js';
import { redriveForField } from '../../src/streams/dlq.js';
import { StreamRunner } from '../../src/streams/runner.js';
import { createTestEnv, waitFor, type TestEnv } from '../support/env.js';
import { appendEvent, pendingCount, receivedEvent } from '../support/events.js';

const tenant = 'volatile';
const tickets = 40;
let t: TestEnv;
let projector: RunningRole;
let runner: StreamRunner;
/** Inputs appended so far (tests append more): what live processing settles at. */
let inputs = tickets;
/** The stream id of the setup's last input: the dry runs read up to it, whatever other tests appended. */
let setupEnd = '';
/** Handler calls per input event id. */
const calls = new Map<string, number>();
let summaryOf = (ticket: string) => `Summary of ${ticket}`;

const random = () => Math.floor(Math.random() * 1_000);
/** Every run differs in what does not matter: ranks, statuses, tokens, latency, note ids. */
const volatileStage: Stage<'ticket.received'> = {
  name: 'enhance',
  handles: ['ticket.received'],
  async handle(event) {
    calls.set(event.id, (calls.get(event.id) ?? 0) + 1);
    return [
      {
        type: 'ticket.context_gathered',
        data: {
          context: {
            similarTickets: [
              {
                ticketId: 'S-1',
                subject: 'Similar',
                status: random() % 2 ? 'received' : 'written_back',
                rank: Math.random(),
              },
            ],
            assets: [],
            unmatchedIps: [],
            kbArticles: [{ articleId: 'KB-1', title: 'Article', rank: Math.random() }],
          },
        },
      },
      {
        type: 'ticket.enhanced',
        data: {
          enhancement: {
            summary: summaryOf(event.ticket),
            likelyCause: 'A cause',
            suggestedCategory: 'Network',
            suggestedPriority: 'low',
            nextSteps: ['Look'],
            confidence: 0.5,
          },
          model: 'offline',
          tokens: { prompt: random(), completion: random() },
          latencyMs: random(),
        },
      },
      { type: 'ticket.written_back', data: { target: 'none', noteId: String(random()), status: random() } },
    ];
  },
};

const archived = async () =>
  (await t.services.db.query<{ n: number }>('SELECT count(*)::int AS n FROM events WHERE tenant_id = $1', [tenant]))
    .rows[0]!.n;
const settled = async (events: number) => {
  await waitFor(
    async () =>
      (await archived()) === events &&
      (await pendingCount(t.services, tenant, 'enhance')) === 0 &&
      (await pendingCount(t.services, tenant, 'archiver')) === 0,
    {
      timeoutMs: 60_000,
      message: 'live processing settled',
    },
  );
};

const replay = (overrides: Partial<StageReplayOptions> = {}) =>
  replayStage({
    ...t.services,
    stage: volatileStage,
    tenant,
    from: '0-1',
    to: `${Date.now() + 60_000}-0`,
    dryRun: true,
    emittedTtlSeconds: 3_600,
    logger: t.services.logger,
    ...overrides,
  });

beforeAll(async () => {
  t = await createTestEnv();
  await t.services.registry.create({ id: tenant });
  projector = await startRole('projector', t.services, {
    listen: false,
    runnerOverrides: { blockMs: 50, tenantRefreshMs: 50 },
  });
  runner = new StreamRunner({
    redis: t.services.redis,
    blockingRedis: t.services.blockingRedis(),
    keys: t.services.keys,
    processor: stageProcessor(volatileStage, t.services.logger),
    retry: { maxAttempts: 2, baseMs: 10, maxMs: 50, claimIdleMs: 5_000 },
    emittedTtlSeconds: 3_600,
    logger: t.services.logger,
    blockMs: 50,
    tenantRefreshMs: 50,
  });
  await runner.start();
  for (let i = 0; i < tickets; i++) setupEnd = await appendEvent(t.services, receivedEvent(tenant, `V-${i}`));
  await settled(tickets * 4);
}, 90_000);

afterAll(async () => {
  await runner?.stop();
  await projector?.stop();
  await t?.cleanup();
});

describe('stage replay through the live stage processor', () => {
  it('a dry run of an unchanged stage changes no ticket, though latency, tokens, ranks and note ids all differ', async () => {
    const result = await replay({ to: setupEnd });
    expect(result).toMatchObject({
      inputs: tickets,
      ticketsChanged: 0,
      ticketsUnchanged: tickets,
      appended: 0,
      failed: [],
    });
  });

  it('a dry run reports the tickets whose enhancement changed', async () => {
    const before = summaryOf;
    summaryOf = (ticket) => (Number(ticket.split('-')[1]) % 2 === 0 ? `Better summary of ${ticket}` : before(ticket));
    try {
      expect(await replay({ to: setupEnd })).toMatchObject({
        inputs: tickets,
        ticketsChanged: tickets / 2,
        ticketsUnchanged: tickets / 2,
      });
    } finally {
      summaryOf = before;
    }
  });

  it('calls the handler once per input, even when the range holds a redriven copy of it', async () => {
    const input = receivedEvent(tenant, 'V-0-again');
    await appendEvent(t.services, input);
    inputs += 1;
    // The same event again, as a redrive appends it: same id, addressed to the group.
    await t.services.redis.xadd(t.services.keys.events(tenant), '*', ...encodeEvent(input), redriveForField, 'enhance');
    await settled(inputs * 4);
    calls.clear();
    const result = await replay();
    expect(result.inputs).toBe(inputs);
    expect(calls.size).toBe(inputs);
    expect([...calls.values()].every((count) => count === 1)).toBe(true);
  });

  it('reads its range batch by batch, handling each before reading on, and never reports more done than total', async () => {
    const known = (await t.services.redis.xrange(t.services.keys.events(tenant), '-', '+')).length;
    expect(known).toBeGreaterThan(0);
    const before = inputs;
    let appended = false;
    // An input appended while the first batch is handled is found by a later read of the range.
    const appending: Stage<'ticket.received'> = {
      ...volatileStage,
      async handle(event, ctx) {
        if (!appended) {
          appended = true;
          await appendEvent(t.services, receivedEvent(tenant, 'V-late'));
          inputs += 1;
        }
        return volatileStage.handle(event, ctx);
      },
    };
    const progress: [number, number][] = [];
    const result = await replay({
      stage: appending,
      batchSize: 10,
      onProgress: (done, total) => progress.push([done, total]),
    });
    expect(result.inputs).toBe(before + 1);
    expect(progress.length).toBeGreaterThan(1);
    expect(progress.every(([done, total]) => done <= total)).toBe(true);
    expect(progress.at(-1)![0]).toBe(before + 1);
  });
});

describe('rebuild through the live projection processor', () => {
  it('fails the way the live projector fails: with a coded error for the entry at fault', async () => {
    const faulty: Projection = {
      name: 'faulty_tickets',
      group: 'projector',
      tables: ['tickets'],
      async applyBatch(client, batchTenant, entries) {
        if (entries.some(({ event }) => event.ticket === 'V-3')) throw new Error('cannot apply V-3');
        return ticketsProjection.applyBatch(client, batchTenant, entries);
      },
    };
    try {
      const failure = await rebuildProjection({
        ...t.services,
        projection: faulty,
        schema: t.config.databaseSchema,
        tenants: [tenant],
      }).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(failure).toBeInstanceOf(StreamdeskError);
      expect(failure).toMatchObject({ code: 'HANDLER_FAILED', message: 'cannot apply V-3' });
    } finally {
      const { rows } = await t.services.db.query<{ name: string }>(
        'SELECT schema_name AS name FROM information_schema.schemata WHERE schema_name LIKE $1',
        [`${t.config.databaseSchema}_rebuild_%`],
      );
      for (const { name } of rows) await t.services.db.query(`DROP SCHEMA ${name} CASCADE`);
    }
  });
});
