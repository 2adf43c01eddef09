import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { contextLimits } from '../../src/consumers/stages/context.js';
import { stageSql } from '../../src/consumers/sql.js';
import { createTestEnv, type TestEnv } from '../support/env.js';

// The similar-ticket search reads only the tenant's most recent tickets, through the ordered
// tickets_recent index, also on a table the planner has no statistics for (autovacuum off, never
// analysed): a deployment relies on that for the context stage's cost not to grow with history.

let t: TestEnv;

type Plan = {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  'Actual Rows'?: number;
  Plans?: Plan[];
};
/** Scans of tables and their indexes (not of functions or CTEs). */
const scans = (plan: Plan): Plan[] => [...(plan['Relation Name'] ? [plan] : []), ...(plan.Plans ?? []).flatMap(scans)];

beforeAll(async () => {
  t = await createTestEnv();
  const { db } = t.services;
  await db.query('ALTER TABLE tickets SET (autovacuum_enabled = off)');
  for (const [tenant, count] of [
    ['big', 30_000],
    ['small', 200],
  ] as const)
    await db.query(
      `INSERT INTO tickets (tenant_id, ticket_id, status, subject, description, received_at, updated_at,
                            last_event_id, last_stream_id, version)
       SELECT $1, 'T-' || n, CASE WHEN n % 2 = 0 THEN 'written_back' ELSE 'failed' END, 'VPN down ' || n,
              'The VPN drops again', now() - n * interval '1 second', now(), gen_random_uuid(), n || '-0', 1
         FROM generate_series(1, $2::int) AS n`,
      [tenant, count],
    );
}, 60_000);

afterAll(async () => {
  await t?.cleanup();
});

/** The plans of every statement the search runs, its function's own included (auto_explain, sent to this client). */
async function plansOf(client: pg.PoolClient, tenant: string): Promise<Plan[]> {
  const plans: Plan[] = [];
  const onNotice = (notice: { message?: string }) => {
    const json = notice.message?.slice(notice.message.indexOf('{'));
    if (json) plans.push((JSON.parse(json) as { Plan: Plan }).Plan);
  };
  client.on('notice', onNotice);
  try {
    for (const setting of [
      "LOAD 'auto_explain'",
      'SET auto_explain.log_min_duration = 0',
      'SET auto_explain.log_nested_statements = on',
      'SET auto_explain.log_analyze = on',
      "SET auto_explain.log_format = 'json'",
      'SET client_min_messages = log',
    ])
      await client.query(setting);
    await client.query(stageSql.similarTickets, [
      tenant,
      ['VPN down again', 'The VPN drops'],
      ['none', 'T-7'],
      contextLimits.similarTickets,
      contextLimits.similarCandidates,
    ]);
    await client.query('SET client_min_messages = notice');
  } finally {
    client.off('notice', onNotice);
  }
  return plans;
}

it('searches the most recent tickets through tickets_recent without planner statistics', async () => {
  const { db } = t.services;
  const { rows } = await db.query<{ reltuples: number; analysed: boolean }>(
    `SELECT c.reltuples, s.last_analyze IS NOT NULL OR s.last_autoanalyze IS NOT NULL AS analysed
       FROM pg_class c JOIN pg_stat_user_tables s ON s.relid = c.oid
      WHERE c.oid = 'tickets'::regclass`,
  );
  expect(rows[0]).toEqual({ reltuples: -1, analysed: false });
  const client = await db.connect();
  try {
    const scanned = (await plansOf(client, 'big')).flatMap(scans);
    expect(scanned.map((scan) => `${scan['Node Type']} ${scan['Index Name'] ?? ''}`)).toEqual([
      'Index Scan tickets_recent',
    ]);
    // The scan stops after the window instead of reading the tenant's 30,000 rows.
    expect(scanned[0]!['Actual Rows']).toBe(contextLimits.similarCandidates);
  } finally {
    client.release(true);
  }
});
