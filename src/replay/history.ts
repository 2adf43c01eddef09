import { decodeArchivedEvent, decodeEvent } from '../events.js';
import type { Db } from '../projections/db.js';
import { compareStreamIds } from '../streams/ids.js';
import type { RedisKeys } from '../streams/keys.js';
import type { StreamEvent } from '../streams/processor.js';
import type { RedisClient } from '../streams/redis.js';

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

/**
 * A tenant's whole history as one ordered sequence: the archive for what the stream no longer
 * holds, then the stream itself. The archive part stops strictly before the stream's first entry,
 * and the stream part starts after the last entry yielded, so there is no gap and no overlap.
 * Every entry goes through the same decoding (and upcasting) as live consumption.
 */
export async function* readHistory(source: HistorySource, tenant: string, options: HistoryOptions = {}): AsyncGenerator<StreamEvent[]> {
  const { db, redis, keys } = source;
  const batchSize = options.batchSize ?? 1_000;
  const streamKey = keys.events(tenant);
  const inRange = (streamId: string) => !options.until || compareStreamIds(streamId, options.until) <= 0;
  let last = options.after;

  const decode = (streamId: string, fields: Record<string, string> | string[], archivedData?: unknown): StreamEvent | undefined => {
    try {
      return { streamId, event: archivedData === undefined ? decodeEvent(fields) : decodeArchivedEvent(fields as Record<string, string>, archivedData) };
    } catch (error) {
      options.onInvalid?.(streamId, error as Error);
      return undefined;
    }
  };

  const [first] = (await redis.xrange(streamKey, '-', '+', 'COUNT', 1)) as [string, string[]][];
  const firstInStream = first?.[0];
  while (true) {
    const { rows } = await db.query<ArchiveRow>(
      `SELECT stream_id, event_id, type, version, tenant_id, ticket_id, causation_id, correlation_id, traceparent, replay_id, data,
              (extract(epoch FROM occurred_at) * 1000)::bigint::text AS occurred_ms
         FROM events
        WHERE tenant_id = $1
          AND ($2::text IS NULL OR stream_position(stream_id) > stream_position($2))
          AND ($3::text IS NULL OR stream_position(stream_id) < stream_position($3))
          AND ($4::text IS NULL OR stream_position(stream_id) <= stream_position($4))
        ORDER BY stream_position(stream_id)
        LIMIT $5`,
      [tenant, last ?? null, firstInStream ?? null, options.until ?? null, batchSize],
    );
    if (rows.length === 0) break;
    last = rows.at(-1)!.stream_id;
    const batch = rows.map((row) => decode(row.stream_id, archivedEntry(row), row.data)).filter((entry) => entry !== undefined);
    if (batch.length > 0) yield batch;
    if (rows.length < batchSize) break;
  }
  while (true) {
    const start = last ? `(${last}` : '-';
    const entries = (await redis.xrange(streamKey, start, options.until ?? '+', 'COUNT', batchSize)) as [string, string[]][];
    if (entries.length === 0) return;
    last = entries.at(-1)![0];
    const batch = entries.filter(([id]) => inRange(id)).map(([id, fields]) => decode(id, fields)).filter((entry) => entry !== undefined);
    if (batch.length > 0) yield batch;
    if (entries.length < batchSize) return;
  }
}

/** About how many entries a tenant's history holds after `after` (for progress and ETA). */
export async function countHistory(source: HistorySource, tenant: string, after?: string): Promise<number> {
  const { db, redis, keys } = source;
  const [first] = (await redis.xrange(keys.events(tenant), '-', '+', 'COUNT', 1)) as [string, string[]][];
  const { rows } = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM events WHERE tenant_id = $1
        AND ($2::text IS NULL OR stream_position(stream_id) > stream_position($2))
        AND ($3::text IS NULL OR stream_position(stream_id) < stream_position($3))`,
    [tenant, after ?? null, first?.[0] ?? null],
  );
  // The stream part is counted whole: an upper bound, good enough for an ETA.
  return (rows[0]?.n ?? 0) + (await redis.xlen(keys.events(tenant)));
}
