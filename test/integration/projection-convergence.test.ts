import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { archiveProjection } from '../../src/projections/archive.js';
import { openDatabase, type Db } from '../../src/projections/db.js';
import { migrate } from '../../src/projections/migrate.js';
import { projectionProcessor, type Projection } from '../../src/projections/projection.js';
import { ticketsProjection } from '../../src/projections/tickets.js';
import { rebuildProjection } from '../../src/replay/rebuild.js';
import type { StreamEvent } from '../../src/streams/processor.js';
import { createTestEnv, uniqueId, type TestEnv } from '../support/env.js';
import { expectedTicketRow, splitAt, tenantHistory, ticketScriptArb } from '../support/histories.js';

let t: TestEnv;
/** A second copy of the tables, fed the same histories out of order. */
let shuffled: Db;
let shuffledSchema: string;

beforeAll(async () => {
  t = await createTestEnv();
  shuffledSchema = `${t.config.databaseSchema}_shuffled`;
  shuffled = await openDatabase({ databaseUrl: t.config.databaseUrl, databaseSchema: shuffledSchema }, { max: 4 });
  await migrate(shuffled);
});

afterAll(async () => {
  await shuffled?.query(`DROP SCHEMA IF EXISTS ${shuffledSchema} CASCADE`);
  await shuffled?.end();
  await t?.cleanup();
});

const ticketRows = async (db: Db, tenant: string) =>
  (
    await db.query('SELECT to_jsonb(t) AS row FROM tickets t WHERE tenant_id = $1 ORDER BY ticket_id', [tenant])
  ).rows.map((row) => row.row);
const archiveRows = async (db: Db, tenant: string) =>
  (
    await db.query(
      "SELECT to_jsonb(e) - 'recorded_at' AS row FROM events e WHERE tenant_id = $1 ORDER BY stream_position(stream_id)",
      [tenant],
    )
  ).rows.map((row) => row.row);

/** Applies batches through the live projection processor, as the runner would: a failed entry is retried until it succeeds. */
async function applyBatches(
  db: Db,
  projection: Projection,
  tenant: string,
  batches: readonly StreamEvent[][],
): Promise<void> {
  const processor = projectionProcessor(projection, db);
  for (let batch of batches) {
    for (let attempt = 1; batch.length > 0; attempt++) {
      expect(attempt).toBeLessThan(20);
      const outcomes = await processor.process(batch, {
        group: projection.group,
        tenant,
        signal: new AbortController().signal,
        attempts: new Map(),
      });
      batch = batch.filter((_, index) => !outcomes[index]!.ok);
    }
  }
}

/** Several consumers at once, each applying its share of the batches in its own order. */
async function applyConcurrently(
  db: Db,
  tenant: string,
  batches: readonly StreamEvent[][],
  consumers: number,
): Promise<void> {
  const shares = Array.from({ length: consumers }, (_, c) => batches.filter((_, index) => index % consumers === c));
  await Promise.all(
    shares
      .filter((share) => share.length > 0)
      .flatMap((share) => [
        applyBatches(db, ticketsProjection, tenant, share),
        applyBatches(db, archiveProjection, tenant, share),
      ]),
  );
}

const caseArb = fc
  .record({
    scripts: fc.array(ticketScriptArb, { minLength: 1, maxLength: 4 }),
    picks: fc.array(fc.nat(9), { maxLength: 40 }),
  })
  .chain(({ scripts, picks }) => {
    const history = tenantHistory('x', scripts, picks, 1_767_000_000_000);
    const indices = history.map((_, index) => index);
    return fc.record({
      scripts: fc.constant(scripts),
      picks: fc.constant(picks),
      order: fc
        .subarray(indices)
        .chain((duplicates) =>
          fc.shuffledSubarray([...indices, ...duplicates], { minLength: indices.length + duplicates.length }),
        ),
      cuts: fc.array(fc.nat(), { maxLength: 8 }),
      consumers: fc.integer({ min: 1, max: 3 }),
    });
  });

describe('tickets projection', () => {
  it('gives the in-order rows, and the rebuilt rows, whatever the order, duplication, batching and number of consumers', async () => {
    await fc.assert(
      fc.asyncProperty(caseArb, async ({ scripts, picks, order, cuts, consumers }) => {
        const tenant = `p${uniqueId()}`;
        const history = tenantHistory(tenant, scripts, picks, 1_767_000_000_000);
        // In stream order, one consumer: the reference rows and the archive.
        await applyBatches(t.services.db, ticketsProjection, tenant, splitAt(history, [7, 14, 21, 28, 35]));
        await applyBatches(t.services.db, archiveProjection, tenant, [history]);
        const inOrder = await ticketRows(t.services.db, tenant);
        expect(inOrder).toHaveLength(scripts.length);
        for (const row of inOrder) expect(row).toMatchObject(expectedTicketRow(history, row.ticket_id));

        const arrival = order.map((index) => history[index]!);
        await applyConcurrently(shuffled, tenant, splitAt(arrival, cuts), consumers);
        expect(await ticketRows(shuffled, tenant)).toEqual(inOrder);
        expect(await archiveRows(shuffled, tenant)).toEqual(await archiveRows(t.services.db, tenant));

        await rebuildProjection({
          ...t.services,
          projection: ticketsProjection,
          schema: t.config.databaseSchema,
          tenants: [tenant],
        });
        expect(await ticketRows(t.services.db, tenant)).toEqual(inOrder);
      }),
      { numRuns: 25 },
    );
  }, 90_000);
});

describe('a failing entry in a projection batch', () => {
  it('lets the other entries commit; the ticket converges once the failed entry is applied, and never shows a failure a later step overcame', async () => {
    const tenant = `f${uniqueId()}`;
    // received, context failed, then redriven: context, enhanced, written_back.
    const history = tenantHistory(
      tenant,
      [
        [
          {
            fields: { priority: 'high' },
            steps: [
              { failures: 1, succeeds: true },
              { failures: 0, succeeds: true },
              { failures: 0, succeeds: true },
            ],
          },
        ],
      ],
      [],
      1_767_000_000_000,
    );
    expect(history.map(({ event }) => event.type)).toEqual([
      'ticket.received',
      'ticket.failed',
      'ticket.context_gathered',
      'ticket.enhanced',
      'ticket.written_back',
    ]);
    const context = history[2]!;
    let contextFailures = 0;
    const flaky: Projection = {
      ...ticketsProjection,
      async applyBatch(client, batchTenant, entries) {
        if (entries.some((entry) => entry === context) && contextFailures++ < 4) throw new Error('deadlock detected');
        return ticketsProjection.applyBatch(client, batchTenant, entries);
      },
    };
    const processor = projectionProcessor(flaky, t.services.db);
    const ctx = {
      group: 'projector',
      tenant,
      signal: new AbortController().signal,
      attempts: new Map<string, number>(),
    };
    const row = async () =>
      (
        await t.services.db.query(
          'SELECT status, subject, context, enhancement, writeback, failure, last_stream_id FROM tickets WHERE tenant_id = $1',
          [tenant],
        )
      ).rows[0];

    const outcomes = await processor.process(history, ctx);
    expect(outcomes.map((outcome) => outcome.ok)).toEqual([true, true, false, true, true]);
    // The entries after it committed; the failed one is reported, so the runner keeps it pending and retries it.
    expect(await row()).toMatchObject({
      status: 'written_back',
      context: null,
      failure: null,
      last_stream_id: history[4]!.streamId,
    });
    expect(await processor.process([context], ctx)).toEqual([
      { ok: false, error: expect.objectContaining({ code: expect.any(String) }) },
    ]);
    expect(await processor.process([context], ctx)).toEqual([{ ok: true, emit: [] }]);
    const converged = await row();
    expect(converged).toMatchObject({
      status: 'written_back',
      subject: expect.any(String),
      failure: null,
      last_stream_id: history[4]!.streamId,
    });
    expect(converged.context).not.toBeNull();
    expect(converged.enhancement).not.toBeNull();

    // The same history applied in stream order gives the same row.
    await applyBatches(shuffled, ticketsProjection, tenant, [history]);
    expect(await ticketRows(shuffled, tenant)).toEqual(await ticketRows(t.services.db, tenant));
  });

  it('shows a failure newer than every success, whatever the order', async () => {
    const tenant = `g${uniqueId()}`;
    // Context succeeded, enhance failed twice and was never redriven.
    const history = tenantHistory(
      tenant,
      [
        [
          {
            fields: {},
            steps: [
              { failures: 0, succeeds: true },
              { failures: 2, succeeds: false },
            ],
          },
        ],
      ],
      [],
      1_767_000_000_000,
    );
    expect(history.map(({ event }) => event.type)).toEqual([
      'ticket.received',
      'ticket.context_gathered',
      'ticket.failed',
      'ticket.failed',
    ]);
    await applyBatches(t.services.db, ticketsProjection, tenant, [
      [history[3]!],
      [history[1]!, history[2]!],
      [history[0]!],
    ]);
    const { rows } = await t.services.db.query(
      'SELECT status, failure, context, last_stream_id FROM tickets WHERE tenant_id = $1',
      [tenant],
    );
    expect(rows[0]).toMatchObject({
      status: 'failed',
      failure: { stage: 'enhance', message: 'enhance failed (0.1)' },
      last_stream_id: history[3]!.streamId,
    });
    expect(rows[0].context).not.toBeNull();
  });
});

describe('rows projected before column positions were kept (migration 006)', () => {
  it('count their filled columns as filled by their last event and drop a failure a later step overcame', async () => {
    const schema = `${t.config.databaseSchema}_upgrade`;
    const old = await openDatabase({ databaseUrl: t.config.databaseUrl, databaseSchema: schema }, { max: 1 });
    try {
      const migrations = new URL('../../src/projections/migrations/', import.meta.url);
      await old.query(
        'CREATE TABLE schema_migrations (version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())',
      );
      for (const version of readdirSync(migrations)
        .map((file) => file.replace(/\.sql$/, ''))
        .filter((version) => version < '006')
        .sort()) {
        await old.query(readFileSync(new URL(`${version}.sql`, migrations), 'utf8'));
        await old.query('INSERT INTO schema_migrations (version) VALUES ($1)', [version]);
      }
      const row = (ticket: string, status: string, lastStreamId: string) => [
        ticket,
        status,
        `Subject ${ticket}`,
        lastStreamId,
        randomUUID(),
      ];
      for (const values of [row('R-1', 'written_back', '1767000000005-0'), row('R-2', 'failed', '1767000000003-0')]) {
        await old.query(
          `INSERT INTO tickets (tenant_id, ticket_id, status, subject, description, context, failure, failed_at, updated_at, last_event_id, last_stream_id, version, event_ids)
           VALUES ('acme', $1, $2, $3, 'd', '{"kbArticles": []}', '{"stage": "enhance"}', now(), now(), $5, $4, 3, ARRAY[$5::uuid])`,
          values,
        );
      }
      expect(await migrate(old)).toContain('006_ticket_column_positions');
      const { rows } = await old.query(
        "SELECT ticket_id, status, failure, failed_at, context_position::text, failure_position::text, ticket_position::text FROM tickets WHERE tenant_id = 'acme' ORDER BY ticket_id",
      );
      const position = (streamId: string) =>
        String(BigInt(streamId.split('-')[0]!) * 2n ** 64n + BigInt(streamId.split('-')[1]!));
      expect(rows).toEqual([
        {
          ticket_id: 'R-1',
          status: 'written_back',
          failure: null,
          failed_at: null,
          context_position: position('1767000000005-0'),
          failure_position: null,
          ticket_position: position('1767000000005-0'),
        },
        {
          ticket_id: 'R-2',
          status: 'failed',
          failure: { stage: 'enhance' },
          failed_at: expect.any(Date),
          context_position: position('1767000000003-0'),
          failure_position: position('1767000000003-0'),
          ticket_position: position('1767000000003-0'),
        },
      ]);
    } finally {
      await old.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await old.end();
    }
  });
});
