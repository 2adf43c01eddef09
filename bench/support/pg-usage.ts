/**
 * What each part of the pipeline asks of Postgres: statements, commits and backend CPU time, per
 * stage and projection. The role under test gets a stand-in for its pool that sends each statement
 * to a pool of its own per part (application_name `bench:<env>:<part>`), so the CPU time of those
 * backends (/proc/<pid>/stat, Postgres on this machine) is that part's alone. pg_stat_statements
 * would need a server restart (shared_preload_libraries), which a shared machine does not get.
 */
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { stageSql } from '../../src/consumers/sql.js';
import type { Db } from '../../src/projections/db.js';
import { sql as projectionSql } from '../../src/projections/sql.js';

export const pgParts = ['context', 'writeback', 'projector', 'archiver', 'other'] as const;
export type PgPart = (typeof pgParts)[number];

/** Per part: statements run (BEGIN/COMMIT/ROLLBACK not counted), commits (a statement outside a transaction is one). */
export type PgCounts = { statements: number; commits: number; cpuMs: number };
export type PgUsage = Record<PgPart, PgCounts> & { xactCommit: number };

const partOf = new Map<string, PgPart>([
  [stageSql.similarTickets, 'context'],
  [stageSql.kbArticles, 'context'],
  [stageSql.assetsByIp, 'context'],
  [stageSql.receivedTicket, 'context'],
  [stageSql.findWriteback, 'writeback'],
  [stageSql.recordWriteback, 'writeback'],
  [projectionSql.ticketChanges, 'projector'],
  [projectionSql.archiveEvents, 'archiver'],
]);
/** Statements of other modules that name their part (a batch form of a stage's statement, say). */
const partByHeader: [RegExp, PgPart][] = [
  [/similar|kb_articles|assets/i, 'context'],
  [/writebacks/i, 'writeback'],
];

function classify(text: string): PgPart {
  const known = partOf.get(text);
  if (known) return known;
  return partByHeader.find(([pattern]) => pattern.test(text.slice(0, 400)))?.[1] ?? 'other';
}

type Query = { text: string } | string;
const textOf = (query: Query) => (typeof query === 'string' ? query : query.text);
const control = /^\s*(BEGIN|COMMIT|ROLLBACK)\b/i;

export type InstrumentedDb = {
  db: Db;
  /** Counts and CPU time so far (read them before and after a run, and subtract). */
  snapshot(): Promise<PgUsage>;
  close(): Promise<void>;
};

/**
 * A transaction's BEGIN is held back until its first statement says which part it belongs to;
 * the transaction then runs on a connection of that part's pool.
 */
function routedClient(pools: Record<PgPart, pg.Pool>, counts: Record<PgPart, PgCounts>) {
  let real: pg.PoolClient | undefined;
  let part: PgPart = 'other';
  let begun = false;
  return {
    async query(query: Query, values?: unknown[]) {
      const text = textOf(query);
      if (!real) {
        if (/^\s*BEGIN\b/i.test(text)) {
          begun = true;
          return { rows: [], rowCount: 0 };
        }
        if (control.test(text)) return { rows: [], rowCount: 0 };
        part = classify(text);
        real = await pools[part].connect();
        if (begun) await real.query('BEGIN');
      }
      if (/^\s*COMMIT\b/i.test(text)) counts[part].commits += 1;
      else if (!control.test(text)) counts[part].statements += 1;
      return real.query(query, values);
    },
    release(error?: Error | boolean) {
      real?.release(error);
    },
  };
}

function backendTicks(pid: number): number {
  try {
    const raw = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = raw.slice(raw.lastIndexOf(')') + 2).split(' ');
    return Number(rest[11]) + Number(rest[12]); // utime, stime (fields 14 and 15)
  } catch {
    return 0;
  }
}

/** `observer` runs the pg_stat queries (not counted); `name` keeps application names apart between envs. */
export function instrumentDb(db: Db, observer: Db, name: string): InstrumentedDb {
  const sizes: Record<PgPart, number> = { context: 6, writeback: 3, projector: 3, archiver: 3, other: 3 };
  const appName = (part: PgPart) => `bench:${name}:${part}`;
  const pools = Object.fromEntries(
    pgParts.map((part) => {
      // Idle connections stay: a backend that exits takes its CPU time with it.
      const pool = new pg.Pool({
        ...db.options,
        max: sizes[part],
        idleTimeoutMillis: 0,
        application_name: appName(part),
      });
      pool.on('error', () => undefined);
      pool.on('connect', (client) => client.on('error', () => undefined));
      return [part, pool];
    }),
  ) as Record<PgPart, pg.Pool>;
  const counts = Object.fromEntries(pgParts.map((part) => [part, { statements: 0, commits: 0, cpuMs: 0 }])) as Record<
    PgPart,
    PgCounts
  >;
  const routed = {
    options: db.options,
    async query(query: Query, values?: unknown[]) {
      const part = classify(textOf(query));
      counts[part].statements += 1;
      counts[part].commits += 1;
      return pools[part].query(textOf(query), values);
    },
    connect: async () => routedClient(pools, counts),
    on: () => routed,
    end: async () => undefined,
  };
  const hz = 100; // USER_HZ: 100 on Linux
  return {
    db: routed as unknown as Db,
    async snapshot() {
      const { rows } = await observer.query<{ pid: number; application_name: string }>(
        'SELECT pid, application_name FROM pg_stat_activity WHERE application_name LIKE $1',
        [`bench:${name}:%`],
      );
      const cpu = Object.fromEntries(pgParts.map((part) => [part, 0])) as Record<PgPart, number>;
      for (const row of rows) cpu[row.application_name.split(':').at(-1) as PgPart] += backendTicks(row.pid);
      const xact = await observer.query<{ n: string }>(
        'SELECT xact_commit::text AS n FROM pg_stat_database WHERE datname = current_database()',
      );
      const usage = Object.fromEntries(
        pgParts.map((part) => [part, { ...counts[part], cpuMs: (cpu[part] * 1_000) / hz }]),
      ) as Record<PgPart, PgCounts>;
      return { ...usage, xactCommit: Number(xact.rows[0]?.n ?? 0) };
    },
    async close() {
      await Promise.all(pgParts.map((part) => pools[part].end().catch(() => undefined)));
    },
  };
}

/** (after − before) / tickets, per part, rounded to 0.01. */
export function perTicket(before: PgUsage, after: PgUsage, tickets: number): PgUsage {
  const per = (a: number, b: number) => Math.round(((a - b) / Math.max(1, tickets)) * 100) / 100;
  const parts = Object.fromEntries(
    pgParts.map((part) => [
      part,
      {
        statements: per(after[part].statements, before[part].statements),
        commits: per(after[part].commits, before[part].commits),
        cpuMs: per(after[part].cpuMs, before[part].cpuMs),
      },
    ]),
  ) as Record<PgPart, PgCounts>;
  return { ...parts, xactCommit: per(after.xactCommit, before.xactCommit) };
}
