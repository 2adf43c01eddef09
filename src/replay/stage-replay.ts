import { isDeepStrictEqual } from 'node:util';
import type { Logger } from 'pino';
import { stageProcessor, type AnyStage } from '../consumers/stage.js';
import { encodeEvent, eventDataSchemas, type EventData, type EventType } from '../events.js';
import { followOnEvent } from '../streams/follow-on.js';
import { derivedEventId } from '../streams/ids.js';
import { appendAndMarkWork } from '../streams/work.js';
import { currentTraceparent } from '../telemetry/traceparent.js';
import { readHistory, type HistorySource } from './history.js';
import { replaySql } from './sql.js';

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
  /** History entries read per batch. */
  batchSize?: number;
  /** Inputs handled so far, of about `total` (never less than `done`). */
  onProgress?: (done: number, total: number) => void;
};

export type StageReplayResult = {
  runId: string;
  /** Input events in the range that the stage handles (a redriven copy counts with its original). */
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

type Comparable = { type: string; data: unknown };

/**
 * What a dry run compares of a follow-on event: the enhancement's fields, the context found (which
 * tickets, assets and articles, not their ranks or current status), the write-back target; never
 * latency, tokens, note ids or event ids, which differ on every run.
 */
function whatMatters({ type, data }: Comparable): unknown {
  const schema = eventDataSchemas[type as EventType];
  const parsed = schema?.safeParse(data);
  if (!parsed?.success) return { type, data };
  const sorted = (values: string[]) => [...values].sort();
  switch (type) {
    case 'ticket.context_gathered': {
      const { context } = parsed.data as EventData<'ticket.context_gathered'>;
      return {
        type,
        similarTickets: sorted(context.similarTickets.map((ticket) => ticket.ticketId)),
        assets: sorted(context.assets.map((asset) => `${asset.ip} ${asset.hostname}`)),
        unmatchedIps: sorted(context.unmatchedIps),
        kbArticles: sorted(context.kbArticles.map((article) => article.articleId)),
      };
    }
    case 'ticket.enhanced':
      return { type, enhancement: (parsed.data as EventData<'ticket.enhanced'>).enhancement };
    case 'ticket.written_back':
      return { type, target: (parsed.data as EventData<'ticket.written_back'>).target };
    case 'ticket.failed':
      return { type, code: (parsed.data as EventData<'ticket.failed'>).error.code };
    default:
      return { type, data: parsed.data };
  }
}

/** What live processing made of an input: its follow-ons, or (only failed) its failure. */
function originalOutcome(originals: readonly Comparable[]): unknown[] {
  const succeeded = originals.filter((event) => event.type !== 'ticket.failed');
  return (succeeded.length > 0 ? succeeded : originals.slice(-1)).map(whatMatters);
}

type Processor = ReturnType<typeof stageProcessor>;
type Input = Parameters<Processor['process']>[0][number];

/** What a run has found so far. */
type Tally = {
  /** Ids only: a redriven copy carries its original's id and must not call the handler (the model) again. */
  handled: Set<string>;
  /** Per ticket: whether any of its inputs gave follow-ons that differ from the original ones. */
  tickets: Map<string, boolean>;
  failed: StageReplayResult['failed'];
  appended: number;
};

type Run = { options: StageReplayOptions; processor: Processor; runId: string; signal: AbortSignal; tally: Tally };

/** The original follow-ons of some inputs, by input event id. */
async function originalsOf(options: StageReplayOptions, ids: string[]): Promise<Map<string, Comparable[]>> {
  const { rows } = await options.db.query<{ causation_id: string; type: string; data: unknown }>(
    replaySql.originalFollowOns,
    [options.tenant, ids],
  );
  const originals = new Map<string, Comparable[]>();
  for (const row of rows)
    originals.set(row.causation_id, [...(originals.get(row.causation_id) ?? []), { type: row.type, data: row.data }]);
  return originals;
}

/** Appends an input's follow-ons marked with the run, to the normal lane; how many were new. */
async function appendFollowOns(
  { options, runId }: Run,
  input: Input['event'],
  outcome: { emit: Parameters<typeof followOnEvent>[1][]; traceparent?: string | undefined },
): Promise<number> {
  const { redis, keys, tenant, stage } = options;
  let appended = 0;
  for (const [position, followOn] of outcome.emit.entries()) {
    const event = followOnEvent(input, followOn, {
      group: stage.name,
      index: position,
      traceparent: outcome.traceparent ?? currentTraceparent(),
      replay: runId,
    });
    // A replay's follow-ons are a repair, not a customer waiting: they go to the normal lane.
    const added = await appendAndMarkWork(redis, keys, tenant, {
      stream: keys.events(tenant),
      otherLane: keys.priorityEvents(tenant),
      laneSequence: keys.laneSequence(tenant),
      marker: keys.eventEmitted(tenant, event.ticket, event.id),
      markerTtlSeconds: options.emittedTtlSeconds,
      eventId: event.id,
      fields: encodeEvent(event),
    });
    if (added.outcome === 'appended') appended += 1;
  }
  return appended;
}

/** Runs the stage over one chunk of inputs, compares with the originals and (unless a dry run) appends. */
async function replayChunk(run: Run, chunk: Input[]): Promise<void> {
  const { options, processor, signal, tally } = run;
  const ids = chunk.map(({ event }) => event.id);
  const [outcomes, originals] = await Promise.all([
    processor.process(chunk, {
      group: options.stage.name,
      tenant: options.tenant,
      signal,
      attempts: new Map(ids.map((id) => [id, 1])),
    }),
    originalsOf(options, ids),
  ]);
  for (const [index, { event: input }] of chunk.entries()) {
    const outcome = outcomes[index]!;
    if (!tally.tickets.has(input.ticket)) tally.tickets.set(input.ticket, false);
    if (!outcome.ok) {
      tally.failed.push({ eventId: input.id, ticket: input.ticket, error: outcome.error.message });
      continue;
    }
    const after = outcome.emit.map((followOn) =>
      whatMatters({ type: followOn.type, data: JSON.parse(JSON.stringify(followOn.data)) as unknown }),
    );
    if (!isDeepStrictEqual(originalOutcome(originals.get(input.id) ?? []), after))
      tally.tickets.set(input.ticket, true);
    if (!options.dryRun) tally.appended += await appendFollowOns(run, input, outcome);
  }
}

/**
 * Re-runs the current code of one stage over a range of a tenant's history and appends its
 * follow-on events marked as a replay. History is read in batches and each batch goes through the
 * same stage processor the live runner drives, so replay cannot diverge from live processing. An
 * input is handled once, even when the range also holds a redriven copy of it. The projector
 * applies the new events like any newer event; later stages pick them up like live events.
 */
export async function replayStage(options: StageReplayOptions): Promise<StageReplayResult> {
  const { stage, tenant, db } = options;
  const handles = stage.handles as readonly string[];
  const run: Run = {
    options,
    processor: stageProcessor(stage, options.logger),
    runId: derivedEventId('replay', stage.name, tenant, options.from, options.to, options.run ?? ''),
    signal: options.signal ?? new AbortController().signal,
    tally: { handled: new Set(), tickets: new Map(), failed: [], appended: 0 },
  };
  const { processor, signal, tally } = run;
  const { rows: counted } = await db.query<{ n: number }>(replaySql.countStageInputs, [
    tenant,
    handles,
    options.from,
    options.to,
  ]);
  let total = counted[0]?.n ?? 0;
  let done = 0;
  for await (const batch of readHistory(options, tenant, {
    after: justBefore(options.from),
    until: options.to,
    batchSize: options.batchSize ?? 500,
  })) {
    const inputs = batch.filter(({ event }) => {
      if (!handles.includes(event.type) || event.replay || tally.handled.has(event.id)) return false;
      tally.handled.add(event.id);
      return true;
    });
    for (let start = 0; start < inputs.length && !signal.aborted; start += processor.concurrency) {
      const chunk = inputs.slice(start, start + processor.concurrency);
      await replayChunk(run, chunk);
      done += chunk.length;
      // The total counts archived inputs; inputs only in the stream raise it as they come.
      total = Math.max(total, done);
      options.onProgress?.(done, total);
    }
    if (signal.aborted) break;
  }
  const changed = [...tally.tickets.values()].filter(Boolean).length;
  return {
    runId: run.runId,
    inputs: tally.handled.size,
    ticketsChanged: changed,
    ticketsUnchanged: tally.tickets.size - changed,
    appended: tally.appended,
    failed: tally.failed,
    dryRun: options.dryRun ?? false,
  };
}

/** The greatest stream id below `id`, or undefined for the very first one. */
function justBefore(id: string): string | undefined {
  const [ms = '0', seq = '0'] = id.split('-');
  if (BigInt(seq) > 0n) return `${ms}-${BigInt(seq) - 1n}`;
  return BigInt(ms) > 0n ? `${BigInt(ms) - 1n}-18446744073709551615` : undefined;
}
