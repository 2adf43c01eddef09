import type pg from 'pg';
import { sqlFiles } from '../sql-files.js';
import { archiveTable, groupNames } from './groups.js';
import { compareStreamIds } from './ids.js';
import type { RedisKeys } from './keys.js';
import { infoRecords, pendingSummary, streamEntries } from './reply.js';
import type { RedisClient } from './redis.js';
import { trim } from './scripts.js';

/** What retention asks of Postgres: where the archive's checkpoint is (a pool, or any client). */
export type ArchiveQueries = Pick<pg.Pool, 'query'>;

const sql = sqlFiles(new URL('./sql/', import.meta.url), { archiveCheckpoint: 'archive-checkpoint' });

export type RetentionPolicy = Readonly<{ maxAgeMs: number; maxLength: number }>;

export type TrimResult = { tenant: string; trimmed: number; minId: string | undefined; heldBy: string | undefined };

/** Entries the length bound may walk per call (inside Redis); a longer excess goes over several runs. */
const lengthBudget = 10_000;

const successor = (id: string) => {
  const [ms = '0', seq = '0'] = id.split('-');
  return `${ms}-${BigInt(seq) + 1n}`;
};

/**
 * Trims both of a tenant's lanes, each by itself (each lane's groups hold its own floor). The
 * figures add up; `minId` and `heldBy` are the normal lane's where it had something to say.
 */
export async function trimTenantStream(
  redis: RedisClient,
  keys: RedisKeys,
  db: ArchiveQueries,
  tenant: string,
  policy: RetentionPolicy,
  now = Date.now(),
): Promise<TrimResult> {
  const [normal, priority] = [
    await trimLane(redis, keys.events(tenant), db, tenant, policy, now),
    await trimLane(redis, keys.priorityEvents(tenant), db, tenant, policy, now),
  ];
  return {
    tenant,
    trimmed: normal.trimmed + priority.trimmed,
    minId: normal.minId ?? priority.minId,
    heldBy: normal.heldBy ?? priority.heldBy,
  };
}

/**
 * Trims one lane of a tenant to the retention policy (entries older than maxAge, or beyond maxLength),
 * but never past an entry the archiver has not stored, nor past any group's unprocessed (pending or
 * undelivered) entries: trimmed history stays replayable from the archive. Looks at the stream's
 * length and first entry before anything else; the trim itself runs in Redis (trim.lua), so no
 * range of entries is read into this process.
 */
async function trimLane(
  redis: RedisClient,
  stream: string,
  db: ArchiveQueries,
  tenant: string,
  policy: RetentionPolicy,
  now: number,
): Promise<TrimResult> {
  const ageBound = `${Math.max(0, now - policy.maxAgeMs)}-0`;
  const replies =
    (await redis.pipeline().xlen(stream).xrange(stream, '-', '+', 'COUNT', 1).xinfo('GROUPS', stream).exec()) ?? [];
  const length = Number(replies[0]?.[1] ?? 0);
  const [first] = streamEntries('XRANGE', replies[1]?.[1] ?? []);
  if (!first || (length <= policy.maxLength && compareStreamIds(first[0], ageBound) >= 0))
    return { tenant, trimmed: 0, minId: undefined, heldBy: undefined };

  const groups = infoRecords('XINFO GROUPS', (replies[2]?.[0] ? [] : replies[2]?.[1]) ?? []);
  const byName = new Map(groups.map((info) => [String(info.name), info]));
  if (!byName.has(groupNames.archiver))
    return { tenant, trimmed: 0, minId: undefined, heldBy: `${groupNames.archiver} (no archiver group yet)` };

  // The floor: nothing at or above it may go.
  let floor = '18446744073709551615-18446744073709551615';
  let heldBy: string | undefined;
  const hold = (bound: string, by: string) => {
    if (compareStreamIds(bound, floor) < 0) {
      floor = bound;
      heldBy = by;
    }
  };
  const withPending = [...byName.entries()].filter(([, info]) => Number(info.pending) > 0);
  const pipeline = redis.pipeline();
  for (const [name] of withPending) pipeline.xpending(stream, name);
  const [pendingReplies, checkpoint] = await Promise.all([
    withPending.length > 0 ? pipeline.exec() : Promise.resolve([]),
    db.query<{ stream_id: string }>(sql.archiveCheckpoint, [tenant, archiveTable]),
  ]);
  for (const [name, info] of byName) hold(successor(String(info['last-delivered-id'])), name);
  withPending.forEach(([name], index) => {
    const [error, summary] = pendingReplies?.[index] ?? [new Error('no reply'), null];
    if (error) throw error;
    const { oldestId } = pendingSummary(summary);
    if (oldestId) hold(oldestId, name);
  });
  hold(checkpoint.rows[0] ? successor(checkpoint.rows[0].stream_id) : '0-1', 'archive');

  const trimmed = await trim(redis, stream, { floor, ageBound, maxLength: policy.maxLength, budget: lengthBudget });
  const floorBinds = compareStreamIds(floor, ageBound) <= 0 || length > policy.maxLength;
  return {
    tenant,
    trimmed,
    minId: compareStreamIds(ageBound, floor) < 0 ? ageBound : floor,
    heldBy: floorBinds ? heldBy : undefined,
  };
}
