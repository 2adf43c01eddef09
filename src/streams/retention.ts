import type { Db } from '../projections/db.js';
import { compareStreamIds } from './ids.js';
import type { RedisKeys } from './keys.js';
import { toRecord } from './reply.js';
import type { RedisClient } from './redis.js';

export type RetentionPolicy = Readonly<{ maxAgeMs: number; maxLength: number }>;

export type TrimResult = { tenant: string; trimmed: number; minId: string | undefined; heldBy: string | undefined };

const successor = (id: string) => {
  const [ms = '0', seq = '0'] = id.split('-');
  return `${ms}-${BigInt(seq) + 1n}`;
};

/**
 * Trims a tenant's stream to the retention policy (entries older than maxAge, or beyond maxLength),
 * but never past an entry the archiver has not stored, nor past any group's unprocessed (pending or
 * undelivered) entries: trimmed history stays replayable from the archive.
 */
export async function trimTenantStream(redis: RedisClient, keys: RedisKeys, db: Db, tenant: string, policy: RetentionPolicy, now = Date.now()): Promise<TrimResult> {
  const stream = keys.events(tenant);
  const candidates: string[] = [`${Math.max(0, now - policy.maxAgeMs)}-0`];
  const newest = (await redis.xrevrange(stream, '+', '-', 'COUNT', policy.maxLength)) as [string, string[]][];
  if (newest.length === policy.maxLength) candidates.push(newest.at(-1)![0]);
  let minId = candidates.sort(compareStreamIds).at(-1)!;
  let heldBy: string | undefined;
  const hold = (bound: string, by: string) => {
    if (compareStreamIds(bound, minId) < 0) {
      minId = bound;
      heldBy = by;
    }
  };

  const groups = (await redis.xinfo('GROUPS', stream).catch(() => [])) as unknown[][];
  const byName = new Map(groups.map((raw) => toRecord(raw)).map((info) => [String(info.name), info]));
  if (!byName.has('archiver')) return { tenant, trimmed: 0, minId: undefined, heldBy: 'archiver (no archiver group yet)' };
  for (const [name, info] of byName) {
    hold(successor(String(info['last-delivered-id'])), name);
    if (Number(info.pending) > 0) {
      const [, oldestPending] = (await redis.xpending(stream, name)) as [number, string | null];
      if (oldestPending) hold(oldestPending, name);
    }
  }
  const { rows } = await db.query<{ stream_id: string }>("SELECT stream_id FROM projection_checkpoints WHERE projection = 'events' AND tenant_id = $1", [tenant]);
  hold(rows[0] ? successor(rows[0].stream_id) : '0-1', 'archive');
  const trimmed = await redis.xtrim(stream, 'MINID', minId);
  return { tenant, trimmed, minId, heldBy };
}
