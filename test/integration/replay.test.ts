import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stageProcessor, type Stage } from '../../src/consumers/stage.js';
import { currentVersion, upcasters } from '../../src/events.js';
import { ticketsProjection } from '../../src/projections/tickets.js';
import { RebuildInterrupted, rebuildProjection, type RebuildProgress } from '../../src/replay/rebuild.js';
import { readHistory } from '../../src/replay/history.js';
import { replayStage } from '../../src/replay/stage-replay.js';
import { startRole, type RunningRole } from '../../src/runtime/roles.js';
import { redriveDeadLetters } from '../../src/streams/dlq.js';
import { trimTenantStream } from '../../src/streams/retention.js';
import { StreamRunner } from '../../src/streams/runner.js';
import { createTestEnv, waitFor, type TestEnv } from '../support/env.js';
import { appendEvent, readStream, receivedEvent } from '../support/events.js';

const tenants = ['alpha', 'bravo', 'charlie'];
const ticketsPerTenant = 300;
let t: TestEnv;
let projector: RunningRole;
let contextRunner: StreamRunner;
let poisonFixed = false;
/** What the setup saw of alpha's dead letter, for the tests to check. */
const alphaDeadLetter = { beforeRedrive: 0, redriven: 0 };

/** A context stage with a bug to fix later: tickets mentioning "printer" get the wrong category hint. */
let printerBug = true;
const contextStage: Stage<'ticket.received'> = {
  name: 'context',
  handles: ['ticket.received'],
  async handle(event) {
    if (event.ticket.endsWith('-13') && !poisonFixed) throw new Error('poison ticket');
    const printer = event.data.ticket.subject.includes('printer');
    const kb = printer && printerBug ? 'KB-WRONG' : printer ? 'KB-PRINTER' : 'KB-GENERAL';
    return [
      {
        type: 'ticket.context_gathered',
        data: {
          context: {
            similarTickets: [],
            assets: [],
            unmatchedIps: [],
            kbArticles: [{ articleId: kb, title: kb, rank: 1 }],
          },
        },
      },
    ];
  },
};

const snapshot = async (where = '') =>
  (
    await t.services.db.query(
      `SELECT tenant_id, ticket_id, status, subject, description, priority, category, requester, context, enhancement, writeback, failure,
              created_at, received_at, context_gathered_at, enhanced_at, written_back_at, failed_at, updated_at, last_event_id, last_stream_id, version, event_ids
         FROM tickets ${where} ORDER BY tenant_id, ticket_id`,
    )
  ).rows;

const caughtUp = async () => {
  await waitFor(
    async () => {
      for (const tenant of tenants) {
        const groups = (await t.services.redis.xinfo('GROUPS', t.services.keys.events(tenant))) as unknown[][];
        for (const group of groups) {
          if (Number(group[group.indexOf('pending') + 1]) !== 0 || Number(group[group.indexOf('lag') + 1]) !== 0)
            return false;
        }
      }
      return true;
    },
    { timeoutMs: 60_000, message: 'every group caught up' },
  );
};

beforeAll(async () => {
  t = await createTestEnv({ RETRY_BASE_MS: '10', RETRY_MAX_MS: '50' });
  for (const tenant of tenants) await t.services.registry.create({ id: tenant });
  projector = await startRole('projector', t.services, {
    listen: false,
    runnerOverrides: { blockMs: 50, tenantRefreshMs: 50 },
  });
  contextRunner = new StreamRunner({
    redis: t.services.redis,
    blockingRedis: t.services.blockingRedis(),
    keys: t.services.keys,
    processor: stageProcessor(contextStage, t.services.logger),
    retry: { maxAttempts: 2, baseMs: 10, maxMs: 50, claimIdleMs: 5_000 },
    emittedTtlSeconds: 3_600,
    logger: t.services.logger,
    blockMs: 50,
    tenantRefreshMs: 50,
  });
  await contextRunner.start();
  for (const tenant of tenants) {
    for (let i = 0; i < ticketsPerTenant; i++) {
      const subject = i % 10 === 0 ? `The printer on floor ${i} jams` : `Question ${i}`;
      await appendEvent(
        t.services,
        receivedEvent(tenant, `${tenant}-${i}`, {
          data: {
            action: 'ticket.created',
            ticket: { id: `${tenant}-${i}`, subject, description: `About ${subject}` },
            deliveryId: `${tenant}-${i}`,
          },
        } as never),
      );
    }
  }
  await caughtUp();
  // One dead letter per tenant (ticket -13); alpha's is redriven after the fix.
  alphaDeadLetter.beforeRedrive = await t.services.redis.xlen(t.services.keys.dlq('alpha'));
  poisonFixed = true;
  alphaDeadLetter.redriven = (await redriveDeadLetters(t.services.redis, t.services.keys, 'alpha')).redriven;
  await caughtUp();
}, 120_000);

afterAll(async () => {
  await contextRunner?.stop();
  await projector?.stop();
  await t?.cleanup();
});

describe('projection rebuild', () => {
  it('rebuilds exactly the state live processing produced, failures and a redriven dead letter included', async () => {
    expect(alphaDeadLetter).toEqual({ beforeRedrive: 1, redriven: 1 });
    const live = await snapshot();
    expect(live).toHaveLength(tenants.length * ticketsPerTenant);
    // (The stage replay test fixes bravo's poison ticket.)
    expect(
      live
        .filter((row) => row.status === 'failed' && row.tenant_id !== 'bravo')
        .map((row) => row.ticket_id)
        .sort(),
    ).toEqual(['charlie-13']);
    expect(live.find((row) => row.ticket_id === 'alpha-13')!.status).toBe('context_gathered');
    await t.services.db.query("UPDATE tickets SET subject = 'corrupted by a bug' WHERE ticket_id LIKE '%-1'");
    const result = await rebuildProjection({
      ...t.services,
      projection: ticketsProjection,
      schema: t.config.databaseSchema,
      tenants,
    });
    expect(result.swapped).toBe(true);
    expect(await snapshot()).toEqual(live);
    // Rebuilt rows are searchable (the context stage's similar-ticket search).
    expect(
      (
        await t.services.db.query(
          "SELECT count(*)::int AS n FROM tickets WHERE search IS NULL OR search = ''::tsvector",
        )
      ).rows[0].n,
    ).toBe(0);
  });

  it('rebuilds from the archive alone once the stream was trimmed', async () => {
    const live = await snapshot();
    for (const tenant of tenants) {
      const trim = await trimTenantStream(t.services.redis, t.services.keys, t.services.db, tenant, {
        maxAgeMs: 0,
        maxLength: 1,
      });
      expect(trim.trimmed).toBeGreaterThan(0);
      // Never past what the archiver stored, nor what a group has not processed: at most the newest entry stays.
      expect(await t.services.redis.xlen(t.services.keys.events(tenant))).toBeLessThanOrEqual(1);
    }
    const history = [];
    for await (const batch of readHistory(t.services, 'alpha', { batchSize: 100 }))
      history.push(...batch.map((entry) => entry.streamId));
    expect(new Set(history).size).toBe(history.length);
    expect(history).toEqual(
      [...history].sort((a, b) =>
        (BigInt(a.split('-')[0]!) - BigInt(b.split('-')[0]!) || BigInt(a.split('-')[1]!) - BigInt(b.split('-')[1]!)) >
        0n
          ? 1
          : -1,
      ),
    );
    await t.services.db.query('DELETE FROM tickets');
    await rebuildProjection({ ...t.services, projection: ticketsProjection, schema: t.config.databaseSchema, tenants });
    expect(await snapshot()).toEqual(live);
  });

  it('resumes an interrupted rebuild to the same result', async () => {
    const live = await snapshot();
    // How many events a whole rebuild reads (other tests append to the streams).
    const whole = await rebuildProjection({
      ...t.services,
      projection: ticketsProjection,
      schema: t.config.databaseSchema,
      tenants,
    });
    const interrupt = new AbortController();
    let batches = 0;
    await expect(
      rebuildProjection({
        ...t.services,
        projection: ticketsProjection,
        schema: t.config.databaseSchema,
        tenants,
        batchSize: 50,
        signal: interrupt.signal,
        onProgress: () => {
          if (++batches === 5) interrupt.abort();
        },
      }),
    ).rejects.toBeInstanceOf(RebuildInterrupted);
    const resumed = await rebuildProjection({
      ...t.services,
      projection: ticketsProjection,
      schema: t.config.databaseSchema,
      tenants,
      batchSize: 50,
    });
    expect(resumed.resumed).toBe(true);
    expect(resumed.events).toBeLessThan(whole.events);
    expect(await snapshot()).toEqual(live);
  });

  it('reports progress as totals over all tenants while several are rebuilt at once', async () => {
    const live = await snapshot();
    const seen: RebuildProgress[] = [];
    const result = await rebuildProjection({
      ...t.services,
      projection: ticketsProjection,
      schema: t.config.databaseSchema,
      tenants,
      parallelTenants: 2,
      batchSize: 100,
      onProgress: (progress) => seen.push(progress),
    });
    const build = seen.filter((progress) => progress.phase === 'build');
    expect(build.length).toBeGreaterThan(tenants.length);
    // Two tenants at once: each report counts both, so what is done only grows and the total stays.
    expect(build.some((progress) => progress.inFlight.length === 2)).toBe(true);
    expect(new Set(build.map((progress) => progress.total)).size).toBe(1);
    seen.forEach((progress, index) => {
      expect(progress.applied).toBeGreaterThanOrEqual(seen[index - 1]?.applied ?? 0);
      expect(progress.applied).toBeLessThanOrEqual(progress.total);
      expect(progress.inFlight.length).toBeLessThanOrEqual(2);
      expect(progress.tenantCount).toBe(tenants.length);
    });
    expect(seen.at(-1)).toEqual({
      phase: 'done',
      applied: result.events,
      total: result.events,
      inFlight: [],
      tenantsDone: tenants.length,
      tenantCount: tenants.length,
    });
    expect(await snapshot()).toEqual(live);
  });

  it('rebuilding one tenant never touches another', async () => {
    const others = async () =>
      (
        await t.services.db.query(
          "SELECT ticket_id, xmin::text AS row_version FROM tickets WHERE tenant_id <> 'alpha' ORDER BY ticket_id",
        )
      ).rows;
    const before = await others();
    const alphaBefore = await snapshot("WHERE tenant_id = 'alpha'");
    await rebuildProjection({
      ...t.services,
      projection: ticketsProjection,
      schema: t.config.databaseSchema,
      tenants: ['alpha'],
    });
    expect(await others()).toEqual(before);
    expect(await snapshot("WHERE tenant_id = 'alpha'")).toEqual(alphaBefore);
  });
});

describe('stage replay', () => {
  it('re-runs the fixed stage over a range, corrects the affected tickets only, and adds nothing when run twice', async () => {
    const entries = await readStream(t.services, 'bravo');
    const stillInStream = entries.length;
    const firstArchived = (await t.services.db.query("SELECT min(stream_id) FROM events WHERE tenant_id = 'bravo'"))
      .rows[0].min as string;
    const to = `${Date.now()}-0`;
    const before = await snapshot("WHERE tenant_id = 'bravo'");
    expect(before.filter((row) => row.context?.kbArticles[0].articleId === 'KB-WRONG')).toHaveLength(30);

    printerBug = false;
    const dry = await replayStage({
      ...t.services,
      stage: contextStage,
      tenant: 'bravo',
      from: firstArchived,
      to,
      dryRun: true,
      emittedTtlSeconds: 3_600,
      logger: t.services.logger,
    });
    expect(dry).toMatchObject({ inputs: ticketsPerTenant, ticketsChanged: 30 + 1, appended: 0, dryRun: true });
    expect((await readStream(t.services, 'bravo')).length).toBe(stillInStream);

    const run = await replayStage({
      ...t.services,
      stage: contextStage,
      tenant: 'bravo',
      from: firstArchived,
      to,
      emittedTtlSeconds: 3_600,
      logger: t.services.logger,
    });
    expect(run).toMatchObject({ inputs: ticketsPerTenant, ticketsChanged: 31, appended: ticketsPerTenant });
    const again = await replayStage({
      ...t.services,
      stage: contextStage,
      tenant: 'bravo',
      from: firstArchived,
      to,
      emittedTtlSeconds: 3_600,
      logger: t.services.logger,
    });
    expect(again.appended).toBe(0);
    expect(again.runId).toBe(run.runId);

    await waitFor(
      async () =>
        (await snapshot("WHERE tenant_id = 'bravo'")).every(
          (row) => row.context?.kbArticles[0].articleId !== 'KB-WRONG',
        ),
      { message: 'replayed events projected' },
    );
    const after = await snapshot("WHERE tenant_id = 'bravo'");
    expect(after.filter((row) => row.context.kbArticles[0].articleId === 'KB-PRINTER')).toHaveLength(30);
    // The poison ticket, fixed meanwhile, now has its context too.
    expect(after.find((row) => row.ticket_id === 'bravo-13')!.status).toBe('context_gathered');
    const replayed = (await readStream(t.services, 'bravo')).filter(([, fields]) => fields.replay === run.runId);
    expect(replayed).toHaveLength(ticketsPerTenant);
    // Other tenants are untouched.
    expect(
      (await snapshot("WHERE tenant_id = 'charlie'")).filter(
        (row) => row.context?.kbArticles[0].articleId === 'KB-WRONG',
      ),
    ).toHaveLength(30);
  });
});

describe('event versions', () => {
  it('replays an archived v1 event under code that reads v2, through its upcaster', async () => {
    const original = currentVersion['ticket.received'];
    currentVersion['ticket.received'] = 2;
    upcasters.set('ticket.received@1', (data) => {
      const v1 = data as { ticket: Record<string, unknown> };
      return { ...v1, ticket: { ...v1.ticket, category: v1.ticket.category ?? 'Uncategorised' } };
    });
    try {
      const history = [];
      for await (const batch of readHistory(t.services, 'charlie', { batchSize: 500 })) history.push(...batch);
      const received = history.filter(({ event }) => event.type === 'ticket.received');
      expect(received.length).toBe(ticketsPerTenant);
      expect(
        received.every(
          ({ event }) =>
            event.v === 2 && event.type === 'ticket.received' && event.data.ticket.category === 'Uncategorised',
        ),
      ).toBe(true);
      await rebuildProjection({
        ...t.services,
        projection: ticketsProjection,
        schema: t.config.databaseSchema,
        tenants: ['charlie'],
      });
      const categories = await t.services.db.query("SELECT DISTINCT category FROM tickets WHERE tenant_id = 'charlie'");
      expect(categories.rows).toEqual([{ category: 'Uncategorised' }]);
    } finally {
      currentVersion['ticket.received'] = original;
      upcasters.delete('ticket.received@1');
      // Charlie's rows as the code of today reads them again, for the tests that compare with a rebuild.
      await rebuildProjection({
        ...t.services,
        projection: ticketsProjection,
        schema: t.config.databaseSchema,
        tenants: ['charlie'],
      });
    }
  });
});
