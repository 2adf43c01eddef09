import { decodeArchivedEvent, decodeEvent } from '../events.js';
import type { Db } from '../projections/db.js';
import { compareStreamIds } from '../streams/ids.js';
import type { RedisKeys } from '../streams/keys.js';
import type { StreamEvent } from '../streams/processor.js';
import type { RedisClient } from '../streams/redis.js';
import { replaySql } from './sql.js';

export type HistorySource = { db: Db; redis: RedisClient; keys: RedisKeys };

export type HistoryOptions = {
  /** Start after this stream id (exclusive). */
  after?: string | undefined;
  /** Stop at this stream id (inclusive). */
  until?: string | undefined;
  batchSize?: number;
  /** Called for entries that cannot be decoded; they are skipped. */
  onInvalid?: (streamId: string, error: Error) => void;
};

type ArchiveRow = {
  stream_id: string;
  event_id: string;
  type: string;
  version: number;
  tenant_id: string;
  ticket_id: string;
  causation_id: string;
  correlation_id: string;
  traceparent: string;
  replay_id: string | null;
  data: unknown;
  occurred_ms: string;
};

function archivedEntry(row: ArchiveRow): Record<string, string> {
  return {
    id: row.event_id,
    type: row.type,
    v: String(row.version),
    tenant: row.tenant_id,
    ticket: row.ticket_id,
    ts: row.occurred_ms,
    causation: row.causation_id,
    correlation: row.correlation_id,
    traceparent: row.traceparent,
    ...(row.replay_id ? { replay: row.replay_id } : {}),
  };
}

type Decoded = StreamEvent | { streamId: string; invalid: true };
type Source = AsyncIterator<Decoded>;
type Decode = (streamId: string, fields: Record<string, string> | string[], archivedData?: unknown) => Decoded;

/** Every entry through the same decoding (and upcasting) as live consumption; a failure is reported and marked. */
function decoder(onInvalid: HistoryOptions['onInvalid']): Decode {
  return (streamId, fields, archivedData) => {
    try {
      return {
        streamId,
        event:
          archivedData === undefined
            ? decodeEvent(fields)
            : decodeArchivedEvent(fields as Record<string, string>, archivedData),
      };
    } catch (error) {
      onInvalid?.(streamId, error as Error);
      return { streamId, invalid: true };
    }
  };
}

type Range = { after: string | undefined; until: string | undefined; batchSize: number; decode: Decode };

async function* laneEntries(redis: RedisClient, key: string, range: Range): Source {
  const inRange = (streamId: string) => !range.until || compareStreamIds(streamId, range.until) <= 0;
  let last = range.after;
  while (true) {
    const entries = (await redis.xrange(
      key,
      last ? `(${last}` : '-',
      range.until ?? '+',
      'COUNT',
      range.batchSize,
    )) as [string, string[]][];
    if (entries.length === 0) return;
    last = entries.at(-1)![0];
    for (const [id, fields] of entries) if (inRange(id)) yield range.decode(id, fields);
    if (entries.length < range.batchSize) return;
  }
}

async function* archivedEntries(db: Db, tenant: string, before: string | undefined, range: Range): Source {
  const page = (after: string | undefined) =>
    db.query<ArchiveRow>(replaySql.archivePage, [
      tenant,
      after ?? null,
      before ?? null,
      range.until ?? null,
      range.batchSize,
    ]);
  let next: ReturnType<typeof page> | undefined = page(range.after);
  try {
    while (next) {
      const { rows }: { rows: ArchiveRow[] } = await next;
      // The next page is read while this one is decoded and applied.
      next = rows.length < range.batchSize ? undefined : page(rows.at(-1)!.stream_id);
      for (const row of rows) yield range.decode(row.stream_id, archivedEntry(row), row.data);
    }
  } finally {
    // Stopped early: the page under way is not waited for, nor may it fail unheard.
    next?.catch(() => undefined);
  }
}

/** The sources merged by stream id, in batches; of entries with the same id the first source's is taken. */
async function* mergedById(sources: Source[], batchSize: number): AsyncGenerator<StreamEvent[]> {
  const heads = await Promise.all(sources.map((next) => next.next()));
  let batch: StreamEvent[] = [];
  let lastId: string | undefined;
  while (true) {
    let pick = -1;
    heads.forEach((head, index) => {
      if (head.done) return;
      const best = heads[pick];
      if (pick < 0 || (best && !best.done && compareStreamIds(head.value.streamId, best.value.streamId) < 0))
        pick = index;
    });
    if (pick < 0) break;
    const head = heads[pick]!;
    if (head.done) break;
    const entry = head.value;
    heads[pick] = await sources[pick]!.next();
    if (lastId !== undefined && compareStreamIds(entry.streamId, lastId) === 0) continue;
    lastId = entry.streamId;
    if ('invalid' in entry) continue;
    batch.push(entry);
    if (batch.length >= batchSize) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length > 0) yield batch;
}

/**
 * A tenant's whole history as one ordered sequence: the archive for what its lanes no longer hold,
 * merged with both lanes. Both lanes draw their ids from one sequence, so ids order the tenant's
 * events and name one entry each. The archive part stops strictly before the later of the lanes'
 * first entries: below it one lane may have been trimmed (those entries come from the archive)
 * while the other still holds its own (those come from the lane, and their archived copy is
 * dropped as the same id), so there is no gap and no overlap. Every entry goes through the same
 * decoding (and upcasting) as live consumption.
 */
export async function* readHistory(
  source: HistorySource,
  tenant: string,
  options: HistoryOptions = {},
): AsyncGenerator<StreamEvent[]> {
  const { db, redis, keys } = source;
  const range: Range = {
    after: options.after,
    until: options.until,
    batchSize: options.batchSize ?? 1_000,
    decode: decoder(options.onInvalid),
  };
  const firsts = await laneFirstIds(redis, keys, tenant);
  // With both lanes empty, all of it is archived; `before` undefined reads the archive to its end.
  const archiveBefore =
    firsts.length === 0 ? undefined : firsts.reduce((a, b) => (compareStreamIds(a, b) >= 0 ? a : b));
  // Lanes first: where a lane and the archive hold the same id, the lane's entry is taken.
  const sources = [
    ...keys.lanes(tenant).map((key) => laneEntries(redis, key, range)),
    archivedEntries(db, tenant, archiveBefore, range),
  ];
  yield* mergedById(sources, range.batchSize);
}

/** The first id of each of the tenant's lanes that holds entries. */
async function laneFirstIds(redis: RedisClient, keys: RedisKeys, tenant: string): Promise<string[]> {
  const firsts = await Promise.all(
    keys
      .lanes(tenant)
      .map(async (key) => ((await redis.xrange(key, '-', '+', 'COUNT', 1)) as [string, string[]][])[0]?.[0]),
  );
  return firsts.filter((id) => id !== undefined);
}

/** About how many entries a tenant's history holds after `after` (for progress and ETA). */
export async function countHistory(source: HistorySource, tenant: string, after?: string): Promise<number> {
  const { db, redis, keys } = source;
  const firsts = await laneFirstIds(redis, keys, tenant);
  const before = firsts.length === 0 ? undefined : firsts.reduce((a, b) => (compareStreamIds(a, b) >= 0 ? a : b));
  const { rows } = await db.query<{ n: number }>(replaySql.countArchived, [tenant, after ?? null, before ?? null]);
  // The lanes are counted whole (and what both hold below the archive bound twice): an upper bound, good enough for an ETA.
  const lengths = await Promise.all(keys.lanes(tenant).map((key) => redis.xlen(key)));
  return (rows[0]?.n ?? 0) + lengths.reduce((a, b) => a + b, 0);
}
