/**
 * The context stage's similar-ticket search on a tenant with a long history and no planner
 * statistics (autovacuum off, no ANALYZE: a fresh deployment, or right after a bulk import), then
 * the same after ANALYZE. Prints EXPLAIN (ANALYZE, BUFFERS) figures for a varied mix of incident
 * texts (loadtest/lib/ticket.js) and for the repetitive worst case (every past ticket matches).
 *
 *   npx tsx bench/similar-tickets.ts [--tickets 25000] [--sql path/to/query.sql]
 *
 * Runs in a schema of its own in the bench database, dropped afterwards. See docs/performance.md.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { contextLimits } from '../src/consumers/stages/context.js';
import { stageSql } from '../src/consumers/sql.js';
import { migrate } from '../src/projections/migrate.js';
import { ticketCreatedBody } from './support/tickets.js';

type Probe = { label: string; tenant: string; text: string };

type Plan = { 'Node Type': string; 'Index Name'?: string; Plans?: Plan[]; [key: string]: unknown };
type Explained = { Plan: Plan; 'Execution Time': number; 'Planning Time': number };

/** Index scans anywhere in the plan, in plan order. */
export function indexesUsed(plan: Plan): string[] {
  const here = plan['Index Name'] ? [`${plan['Node Type']} ${plan['Index Name']}`] : [];
  return [...here, ...(plan.Plans ?? []).flatMap(indexesUsed)];
}

const sum = (plan: Plan, key: string): number =>
  Number(plan[key] ?? 0) + (plan.Plans ?? []).reduce((total, child) => total + sum(child, key), 0);

async function seed(db: pg.Pool, tenant: string, count: number, varied: boolean): Promise<void> {
  const chunk = 5_000;
  for (let start = 0; start < count; start += chunk) {
    const bodies = Array.from({ length: Math.min(chunk, count - start) }, (_, index) =>
      varied
        ? ticketCreatedBody({ runId: 'seed', sequence: start + index, tenantId: tenant }).ticket
        : { id: `R-${start + index}`, subject: 'VPN down', description: 'User reports the VPN is down again.' },
    );
    await db.query(
      `INSERT INTO tickets (tenant_id, ticket_id, status, subject, description, received_at, updated_at,
                            last_event_id, last_stream_id, version)
       SELECT $1, u.id, 'written_back', u.subject, u.description, now() - (u.n || ' seconds')::interval, now(),
              gen_random_uuid(), u.n || '-0', 1
         FROM unnest($2::text[], $3::text[], $4::text[], $5::int[]) AS u (id, subject, description, n)`,
      [
        tenant,
        bodies.map((body) => `${tenant}-${body.id}`),
        bodies.map((body) => body.subject),
        bodies.map((body) => body.description),
        bodies.map((_, index) => count - start - index),
      ],
    );
  }
}

/** EXPLAIN ANALYZE of the search, with the plans of the statements it runs inside functions (auto_explain). */
async function explain(db: pg.Pool, query: string, probe: Probe, candidates: number): Promise<string> {
  const params = [probe.tenant, [probe.text], ['none'], contextLimits.similarTickets, candidates];
  const client = await db.connect();
  const nested: Plan[] = [];
  client.on('notice', (notice: { message?: string }) => {
    const json = notice.message?.slice(notice.message.indexOf('{'));
    if (json) nested.push((JSON.parse(json) as { Plan: Plan }).Plan);
  });
  try {
    await client.query(
      "LOAD 'auto_explain'; SET auto_explain.log_min_duration = 0; SET auto_explain.log_nested_statements = on; SET auto_explain.log_format = 'json'; SET client_min_messages = log",
    );
    // Twice on this connection: the second measures hot buffers and caches, like a running stage.
    await client.query(`EXPLAIN (ANALYZE, FORMAT JSON) ${query}`, params);
    nested.length = 0;
    const { rows } = await client.query<{ 'QUERY PLAN': Explained[] }>(
      `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ${query}`,
      params,
    );
    const result = rows[0]!['QUERY PLAN'][0]!;
    const buffers = sum(result.Plan, 'Shared Hit Blocks') + sum(result.Plan, 'Shared Read Blocks');
    const indexes = [result.Plan, ...nested.slice(0, -1)].flatMap(indexesUsed);
    return `${indexes.join(', ') || '(no index)'}; ${result['Execution Time'].toFixed(1)} ms; ${buffers} buffers (sum over nodes)`;
  } finally {
    client.release(true);
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      tickets: { type: 'string', default: '25000' },
      sql: { type: 'string' },
      candidates: { type: 'string', default: String(contextLimits.similarCandidates) },
    },
    strict: true,
  });
  const count = Number(values.tickets);
  const query = values.sql ? readFileSync(values.sql, 'utf8') : stageSql.similarTickets;
  const schema = `bench_similar_${randomBytes(3).toString('hex')}`;
  const url = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/streamdesk_bench';
  const admin = new pg.Pool({ connectionString: url, max: 1 });
  await admin.query(`CREATE SCHEMA ${schema}`);
  const db = new pg.Pool({ connectionString: url, max: 2, options: `-c search_path=${schema}` });
  try {
    await migrate(db);
    await db.query('ALTER TABLE tickets SET (autovacuum_enabled = off)');
    await seed(db, 'varied', count, true);
    await seed(db, 'repetitive', count, false);
    const varied = ticketCreatedBody({ runId: 'probe', sequence: 7, tenantId: 'varied' }).ticket;
    const probes: Probe[] = [
      {
        label: 'varied mix',
        tenant: 'varied',
        text: `${varied.subject}\n${varied.description}`.slice(0, contextLimits.queryChars),
      },
      { label: 'repetitive', tenant: 'repetitive', text: 'VPN down\nUser reports the VPN is down again.' },
    ];
    for (const stats of ['no statistics', 'after ANALYZE']) {
      if (stats === 'after ANALYZE') await db.query('ANALYZE tickets');
      for (const probe of probes) {
        const figures = await explain(db, query, probe, Number(values.candidates));
        process.stdout.write(
          `${stats}, ${probe.label} (${count} tickets, ${values.candidates} searched): ${figures}\n`,
        );
      }
    }
  } finally {
    await db.end();
    await admin.query(`DROP SCHEMA ${schema} CASCADE`);
    await admin.end();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
