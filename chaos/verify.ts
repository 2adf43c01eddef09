import type pg from 'pg';
import type { RedisKeys } from '../src/streams/keys.js';
import type { RedisClient } from '../src/streams/redis.js';
import { fieldsToRecord } from '../src/events.js';
import { groupNames } from '../src/streams/groups.js';
import { toRecord } from '../src/streams/reply.js';
import { runCli } from '../test/support/child.js';
import { compareRows, type Row, type RowDifference } from './compare.js';
import type { Accepted } from './load.js';

export const groups = Object.values(groupNames);

export type Store = { redis: RedisClient; keys: RedisKeys; db: pg.Pool; tenants: readonly string[] };

type Backlog = { settled: boolean; pending: number; dlq: number };

/**
 * Whether every group has been handed every entry of every stream and acknowledged it. Worked out
 * from last-delivered-id and the pending count, not from XINFO's `lag` (nil after an AOF reload).
 */
export async function backlog({ redis, keys, tenants }: Store): Promise<Backlog> {
  let settled = true;
  let pending = 0;
  let dlq = 0;
  for (const tenant of tenants) {
    // Both lanes (high and urgent tickets are in the priority lane).
    for (const stream of keys.lanes(tenant)) {
      if ((await redis.exists(stream)) === 0) continue;
      const last = String(toRecord((await redis.xinfo('STREAM', stream)) as unknown[])['last-generated-id']);
      const infos = ((await redis.xinfo('GROUPS', stream)) as unknown[][]).map((raw) => toRecord(raw));
      for (const name of groups) {
        const info = infos.find((candidate) => candidate.name === name);
        const groupPending = Number(info?.pending ?? 0);
        pending += groupPending;
        if (!info || groupPending > 0 || String(info['last-delivered-id']) !== last) settled = false;
      }
    }
    dlq += await redis.xlen(keys.dlq(tenant));
  }
  return { settled, pending, dlq };
}

/** Polls until the pipeline has nothing left to do; resolves with when it got there, or undefined on timeout. */
export async function waitDrained(store: Store, timeoutMs: number): Promise<number | undefined> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const state = await backlog(store).catch(() => undefined);
    if (state?.settled) return Date.now();
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return undefined;
}

type StreamEntry = { tenant: string; id: string; type: string; ticket: string };

async function readStreams({ redis, keys, tenants }: Store): Promise<StreamEntry[]> {
  const entries: StreamEntry[] = [];
  for (const [tenant, stream] of tenants.flatMap((tenant) =>
    keys.lanes(tenant).map((lane) => [tenant, lane] as const),
  )) {
    let start = '-';
    for (;;) {
      const page = (await redis.xrange(stream, start, '+', 'COUNT', 2_000)) as [string, string[]][];
      for (const [streamId, raw] of page) {
        const fields = fieldsToRecord(raw);
        // A redriven copy carries its original event id: it is not a second event.
        if (fields['redrive-for'] === undefined)
          entries.push({ tenant, id: fields.id ?? '', type: fields.type ?? '', ticket: fields.ticket ?? '' });
        start = `(${streamId}`;
      }
      if (page.length < 2_000) break;
    }
  }
  return entries;
}

async function hasColumns(db: pg.Pool, table: string, columns: string[]): Promise<boolean> {
  const { rows } = await db.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1 AND column_name = ANY($2)',
    [table, columns],
  );
  return rows[0]!.n === columns.length;
}

export type Figures = {
  finalRows: number;
  /** Accepted tickets missing from the stream, the archive or the tickets table. */
  lost: number;
  lostDetail: { notInStream: number; notArchived: number; noRow: number };
  /** Tickets with something twice: a follow-on in the stream, an archived type, an applied event id, a write-back. */
  doubled: number;
  doubledDetail: { streamEvents: number; archivedTypes: number; appliedTwice: number | null; writebacks: number };
  /** Rows that differ from what `replay rebuild` makes of the same history. */
  incomplete: number;
  incompleteByColumn: Record<string, number>;
  incompleteExamples: RowDifference[];
  /** Rows not at written_back or failed. */
  unfinished: number;
  pending: number;
  dlq: number;
};

const ticketKey = (tenant: unknown, ticket: unknown) => `${String(tenant)}/${String(ticket)}`;

/** Everything the scenario line reports, read after the drain. Runs `replay rebuild` (it rewrites the rows). */
export async function measure(
  store: Store,
  accepted: readonly Accepted[],
  env: Record<string, string>,
): Promise<Figures> {
  const { db } = store;
  const state = await backlog(store);
  const stream = await readStreams(store);
  const inStream = new Set(stream.filter((entry) => entry.type === 'ticket.received').map((entry) => entry.id));
  const archived = new Set(
    (await db.query<{ event_id: string }>("SELECT event_id FROM events WHERE type = 'ticket.received'")).rows.map(
      (row) => row.event_id,
    ),
  );
  const live = (await db.query<Row>('SELECT * FROM tickets ORDER BY tenant_id, ticket_id')).rows;
  const rows = new Map(live.map((row) => [ticketKey(row.tenant_id, row.ticket_id), row]));

  const lostDetail = { notInStream: 0, notArchived: 0, noRow: 0 };
  const lost = new Set<string>();
  for (const { tenant, ticket, eventId } of accepted) {
    const key = ticketKey(tenant, ticket);
    const misses = { notInStream: !inStream.has(eventId), notArchived: !archived.has(eventId), noRow: !rows.has(key) };
    for (const [what, missing] of Object.entries(misses) as [keyof typeof misses, boolean][]) {
      if (!missing) continue;
      lostDetail[what] += 1;
      lost.add(key);
    }
  }

  const doubled = new Set<string>();
  const perType = new Map<string, number>();
  for (const entry of stream) {
    const key = `${ticketKey(entry.tenant, entry.ticket)} ${entry.type}`;
    perType.set(key, (perType.get(key) ?? 0) + 1);
  }
  const streamTwice = [...perType].filter(([, count]) => count > 1).map(([key]) => key.split(' ')[0]!);
  streamTwice.forEach((key) => doubled.add(key));
  const collect = (found: { tenant_id: string; ticket_id: string }[]) => {
    for (const row of found) doubled.add(ticketKey(row.tenant_id, row.ticket_id));
    return found.length;
  };
  const archivedTypes = collect(
    (
      await db.query(
        'SELECT DISTINCT tenant_id, ticket_id FROM events GROUP BY tenant_id, ticket_id, type HAVING count(*) > 1',
      )
    ).rows,
  );
  const appliedTwice = (await hasColumns(db, 'tickets', ['event_ids']))
    ? collect(
        (
          await db.query(
            'SELECT tenant_id, ticket_id FROM tickets WHERE cardinality(event_ids) <> (SELECT count(DISTINCT id) FROM unnest(event_ids) AS id)',
          )
        ).rows,
      )
    : null;
  const writebacks = collect(
    (await db.query('SELECT tenant_id, ticket_id FROM writebacks GROUP BY tenant_id, ticket_id HAVING count(*) > 1'))
      .rows,
  );

  const rebuild = await runCli(
    ['replay', 'rebuild', '--projection', 'tickets'],
    { ...env, LOG_LEVEL: 'warn' },
    180_000,
  );
  if (rebuild.code !== 0) throw new Error(`replay rebuild failed (${rebuild.code}): ${rebuild.stderr.trim()}`);
  const rebuilt = (await db.query<Row>('SELECT * FROM tickets ORDER BY tenant_id, ticket_id')).rows;
  const comparison = compareRows(live, rebuilt, (row) => ticketKey(row.tenant_id, row.ticket_id), {
    unordered: ['event_ids'],
  });

  return {
    finalRows: live.length,
    lost: lost.size,
    lostDetail,
    doubled: doubled.size,
    doubledDetail: { streamEvents: new Set(streamTwice).size, archivedTypes, appliedTwice, writebacks },
    incomplete: comparison.differing.length,
    incompleteByColumn: comparison.byColumn,
    incompleteExamples: comparison.differing.slice(0, 5),
    unfinished: live.filter((row) => row.status !== 'written_back' && row.status !== 'failed').length,
    pending: state.pending,
    dlq: state.dlq,
  };
}
