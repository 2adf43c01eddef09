import { isDeepStrictEqual } from 'node:util';
import type { Logger } from 'pino';
import type { AnyStage, Stage } from '../consumers/stage.js';
import { encodeEvent, type TicketEvent } from '../events.js';
import { followOnEvent } from '../streams/follow-on.js';
import { appendUnlessSeen } from '../streams/ingest.js';
import { derivedEventId } from '../streams/ids.js';
import { currentTraceparent } from '../telemetry/traceparent.js';
import { readHistory, type HistorySource } from './history.js';

export type StageReplayOptions = HistorySource & {
  stage: AnyStage;
  tenant: string;
  /** First input (stream id, inclusive). */
  from: string;
  /** Last input (stream id, inclusive). */
  to: string;
  dryRun?: boolean;
  /** Names the run; the same arguments and run name give the same event ids, so a repeat adds nothing. */
  run?: string | undefined;
  emittedTtlSeconds: number;
  logger: Logger;
  signal?: AbortSignal;
  onProgress?: (done: number) => void;
};

export type StageReplayResult = {
  runId: string;
  /** Input events in the range that the stage handles. */
  inputs: number;
  /** Tickets whose follow-on events differ from what the stage emitted originally. */
  ticketsChanged: number;
  ticketsUnchanged: number;
  /** Events appended by this run (0 on a dry run, or when the same run was already replayed). */
  appended: number;
  failed: { eventId: string; ticket: string; error: string }[];
  dryRun: boolean;
};

/** Accepts a stream id, or an ISO time (the first/last id of that millisecond). */
export function toStreamBound(value: string, end: 'from' | 'to'): string {
  if (/^\d+-\d+$/.test(value)) return value;
  if (/^\d+$/.test(value)) return end === 'from' ? `${value}-0` : `${value}-18446744073709551615`;
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw new Error(`"${value}" is neither a stream id (1700000000000-0) nor an ISO time`);
  return end === 'from' ? `${ms}-0` : `${ms}-18446744073709551615`;
}

/**
 * Re-runs the current code of one stage over a range of a tenant's history and appends its
 * follow-on events marked as a replay. The projector applies them like any newer event; later
 * stages pick them up like live events.
 */
export async function replayStage(options: StageReplayOptions): Promise<StageReplayResult> {
  const { stage, tenant, redis, keys, db } = options;
  const dryRun = options.dryRun ?? false;
  const runId = derivedEventId('replay', stage.name, tenant, options.from, options.to, options.run ?? '');
  const handles = stage.handles as readonly string[];
  const inputs: TicketEvent[] = [];
  for await (const batch of readHistory(options, tenant, { after: justBefore(options.from), until: options.to })) {
    for (const { event } of batch) if (handles.includes(event.type) && !event.replay) inputs.push(event);
  }

  const originals = await db.query<{ causation_id: string; type: string; data: unknown }>(
    'SELECT causation_id, type, data FROM events WHERE tenant_id = $1 AND causation_id = ANY($2) AND replay_id IS NULL ORDER BY stream_position(stream_id)',
    [tenant, inputs.map((event) => event.id)],
  );
  const originalByInput = new Map<string, { type: string; data: unknown }[]>();
  for (const row of originals.rows) originalByInput.set(row.causation_id, [...(originalByInput.get(row.causation_id) ?? []), { type: row.type, data: row.data }]);

  const changedTickets = new Set<string>();
  const seenTickets = new Set<string>();
  const failed: StageReplayResult['failed'] = [];
  let appended = 0;
  let done = 0;
  for (const input of inputs) {
    if (options.signal?.aborted) break;
    seenTickets.add(input.ticket);
    let emitted;
    try {
      emitted = await (stage.handle as Stage['handle'])(input, { tenant, attempt: 1, signal: options.signal ?? new AbortController().signal, log: options.logger });
    } catch (error) {
      failed.push({ eventId: input.id, ticket: input.ticket, error: (error as Error).message });
      continue;
    }
    const before = (originalByInput.get(input.id) ?? []).map(({ type, data }) => ({ type, data }));
    const after = emitted.map(({ type, data }) => ({ type, data: JSON.parse(JSON.stringify(data)) as unknown }));
    if (!isDeepStrictEqual(before, after)) changedTickets.add(input.ticket);
    if (!dryRun) {
      for (const [index, followOn] of emitted.entries()) {
        const event = followOnEvent(input, followOn, { group: stage.name, index, traceparent: currentTraceparent(), replay: runId });
        const added = await appendUnlessSeen(redis, { stream: keys.events(tenant), marker: keys.eventEmitted(tenant, event.id), markerTtlSeconds: options.emittedTtlSeconds, eventId: event.id, fields: encodeEvent(event) });
        if (added.outcome === 'appended') appended += 1;
      }
    }
    options.onProgress?.(++done);
  }
  return {
    runId,
    inputs: inputs.length,
    ticketsChanged: changedTickets.size,
    ticketsUnchanged: [...seenTickets].filter((ticket) => !changedTickets.has(ticket)).length,
    appended,
    failed,
    dryRun,
  };
}

/** The greatest stream id below `id`, or undefined for the very first one. */
function justBefore(id: string): string | undefined {
  const [ms = '0', seq = '0'] = id.split('-');
  if (BigInt(seq) > 0n) return `${ms}-${BigInt(seq) - 1n}`;
  return BigInt(ms) > 0n ? `${BigInt(ms) - 1n}-18446744073709551615` : undefined;
}
