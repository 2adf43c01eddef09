import { readFileSync } from 'node:fs';
import type { ChainableCommander, Result } from 'ioredis';
import { StreamdeskError } from '../errors.js';
import { encodeEvent, type TicketEvent } from '../events.js';
import type { RedisClient } from './client.js';
import type { Marker } from './keys.js';

/**
 * The Lua scripts (lua/*.lua, each documented in its header) and the one typed wrapper of each:
 * the wrappers lay out the keys and arguments and check every reply, so no caller handles a raw
 * script reply. The commands return `unknown` on purpose: only a parser here may read them.
 */
declare module 'ioredis' {
  interface RedisCommander<Context> {
    sdIngest(...args: (string | number)[]): Result<unknown, Context>;
    sdSettle(...args: (string | number)[]): Result<unknown, Context>;
    sdRedrive(...args: (string | number)[]): Result<unknown, Context>;
    sdTouch(...args: (string | number)[]): Result<unknown, Context>;
    sdReleaseConsumer(...args: (string | number)[]): Result<unknown, Context>;
    sdCountAfter(...args: (string | number)[]): Result<unknown, Context>;
    sdTrim(...args: (string | number)[]): Result<unknown, Context>;
    sdLlmGate(...args: (string | number)[]): Result<unknown, Context>;
    sdMarkWork(...args: (string | number)[]): Result<unknown, Context>;
    sdWorkSince(...args: (string | number)[]): Result<unknown, Context>;
  }
}

const lua = (name: string) => readFileSync(new URL(`./lua/${name}.lua`, import.meta.url), 'utf8');
// Scripts that append to a tenant's lanes share its id sequence through this prelude.
const appending = (name: string) => `${lua('lane-id')}\n${lua(name)}`;
// Scripts that check and set dedupe markers share how they are kept (per ticket and period).
const marking = (name: string) => `${lua('lane-id')}\n${lua('markers')}\n${lua(name)}`;
// Scripts that mark tenants as having work share the marking through this prelude.
const markingWork = (script: string) => `${lua('work-mark')}\n${script}`;
const definitions = {
  // Without numberOfKeys: the key count is the first argument.
  sdIngest: { lua: markingWork(marking('ingest')) },
  sdSettle: { lua: marking('settle') },
  sdRedrive: { numberOfKeys: 4, lua: appending('redrive') },
  sdTouch: { numberOfKeys: 1, lua: lua('touch') },
  sdReleaseConsumer: { numberOfKeys: 1, lua: lua('release-consumer') },
  sdCountAfter: { numberOfKeys: 1, lua: lua('count-after') },
  sdTrim: { numberOfKeys: 1, lua: lua('trim') },
  sdLlmGate: { numberOfKeys: 2, lua: lua('llm-gate') },
  sdMarkWork: { numberOfKeys: 3, lua: markingWork(lua('mark-work')) },
  sdWorkSince: { numberOfKeys: 3, lua: lua('work-since') },
};

/** Registers every script as a command of the client (ioredis loads each by its SHA on first use). */
export function defineScripts(client: RedisClient): void {
  for (const [name, definition] of Object.entries(definitions)) client.defineCommand(name, definition);
}

type Pipeline = ChainableCommander;

function malformed(script: string, reply: unknown): never {
  throw new StreamdeskError('INTERNAL', `${script}.lua answered ${JSON.stringify(reply) ?? String(reply)}`);
}

function integer(script: string, reply: unknown): number {
  return typeof reply === 'number' && Number.isInteger(reply) ? reply : malformed(script, reply);
}

function text(script: string, reply: unknown): string {
  return typeof reply === 'string' ? reply : malformed(script, reply);
}

function list(script: string, reply: unknown, length?: number): unknown[] {
  return Array.isArray(reply) && (length === undefined || reply.length === length) ? reply : malformed(script, reply);
}

// ingest.lua

/** Hex digits of the body's hash a delivery marker keeps: 96 bits tell a resend from a different body. */
const bodyHashInMarker = 24;

export type IngestOutcome =
  { outcome: 'appended'; eventId: string; streamId: string } | { outcome: 'duplicate' | 'conflict'; eventId: string };

export type IngestInput = {
  /** The lane to append to, and the tenant's other lane (both lanes share one id sequence). */
  stream: string;
  otherLane: string;
  laneSequence: string;
  marker: Marker;
  /** How long the marker must be kept, seconds. */
  markerTtlSeconds: number;
  eventId: string;
  bodyHash?: string;
  dedupe?: { key: string; ttlSeconds: number };
  fields: string[];
};

export function parseIngestReply(reply: unknown): IngestOutcome {
  const [code, eventId, streamId] = list('ingest', reply);
  if (code === 1 && typeof eventId === 'string' && typeof streamId === 'string')
    return { outcome: 'appended', eventId, streamId };
  if ((code === 0 || code === 2) && typeof eventId === 'string' && streamId === undefined)
    return { outcome: code === 2 ? 'conflict' : 'duplicate', eventId };
  return malformed('ingest', reply);
}

/**
 * ingest.lua: appends an entry unless its delivery marker or dedupe key says it was seen; with
 * `work`, an appended entry marks its lane as having work (`work.mark`) in the same step.
 */
export async function appendUnlessSeen(
  redis: RedisClient,
  input: IngestInput,
  work?: { keys: WorkKeys; mark: string },
): Promise<IngestOutcome> {
  const keys = [input.stream, input.otherLane, input.laneSequence, input.marker.key, input.marker.legacyKey];
  if (input.dedupe) keys.push(input.dedupe.key);
  if (work) keys.push(work.keys.tenants, work.keys.sequence, work.keys.bell);
  const reply = await redis.sdIngest(
    keys.length,
    ...keys,
    input.markerTtlSeconds,
    input.eventId,
    // A prefix keeps the marker short enough for Redis's compact hash encoding (values up to 64 bytes).
    input.bodyHash?.slice(0, bodyHashInMarker) ?? '',
    input.dedupe?.ttlSeconds ?? 0,
    input.marker.field,
    work?.mark ?? '',
    ...input.fields,
  );
  return parseIngestReply(reply);
}

// settle.lua

export type SettleEntry = Readonly<{
  streamId: string;
  /** Follow-on events to append (each at most once, by id). */
  events: readonly TicketEvent[];
  /** Dead-letter fields (dlq.ts `deadLetterFields`); empty: not dead-lettered. */
  deadLetter: readonly string[];
}>;

export type SettleInput = Readonly<{
  /** The entries' lane, the tenant's other lane, its dead letters, the group's retry records, the lanes' id sequence. */
  lane: string;
  otherLane: string;
  dlq: string;
  retryRecords: string;
  laneSequence: string;
  /** The marker of a follow-on event. */
  emittedMarker: (event: TicketEvent) => Marker;
  group: string;
  consumer: string;
  emittedTtlSeconds: number;
  entries: readonly SettleEntry[];
}>;

/** Per entry: the follow-on events appended, or 'taken-over' when another consumer owns it now. */
export type SettleResult = number | 'taken-over';

function settleArgs(input: SettleInput): (string | number)[] {
  const markers = input.entries.flatMap(({ events }) => events.map((event) => input.emittedMarker(event)));
  const args: (string | number)[] = [
    5 + 2 * markers.length,
    input.lane,
    input.otherLane,
    input.dlq,
    input.retryRecords,
    input.laneSequence,
    ...markers.flatMap((marker) => [marker.key, marker.legacyKey]),
    input.group,
    input.consumer,
    input.emittedTtlSeconds,
    input.entries.length,
  ];
  let next = 0;
  for (const { streamId, events, deadLetter } of input.entries) {
    args.push(streamId, events.length, deadLetter.length, ...deadLetter);
    for (const event of events) {
      const fields = encodeEvent(event);
      args.push(markers[next++]!.field, fields.length, ...fields);
    }
  }
  return args;
}

/** settle.lua, queued on a pipeline (one call per batch of one lane); read its reply with `parseSettleReply`. */
export function queueSettle(pipeline: Pipeline, input: SettleInput): void {
  pipeline.sdSettle(...settleArgs(input));
}

export function parseSettleReply(reply: unknown, entries: number): SettleResult[] {
  return list('settle', reply, entries).map((result) => {
    const appended = integer('settle', result);
    if (appended === -1) return 'taken-over';
    return appended >= 0 ? appended : malformed('settle', reply);
  });
}

// redrive.lua

/** redrive.lua: puts a dead letter back on its lane; the new entry's id, or null when it was already gone. */
export async function redrive(
  redis: RedisClient,
  input: Readonly<{ lane: string; otherLane: string; dlq: string; laneSequence: string; letterId: string }>,
  fields: readonly string[],
): Promise<string | null> {
  const reply = await redis.sdRedrive(
    input.lane,
    input.otherLane,
    input.dlq,
    input.laneSequence,
    input.letterId,
    ...fields,
  );
  return reply === null ? null : text('redrive', reply);
}

// touch.lua

/** touch.lua: keeps the consumer's entries fresh; the ids another consumer owns now. */
export async function touch(
  redis: RedisClient,
  stream: string,
  group: string,
  consumer: string,
  ids: readonly string[],
): Promise<string[]> {
  const reply = await redis.sdTouch(stream, group, consumer, ...ids);
  return list('touch', reply).map((id) => text('touch', id));
}

// release-consumer.lua

/** release-consumer.lua: removes a consumer holding nothing; false when it holds entries or does not exist. */
export async function releaseConsumer(
  redis: RedisClient,
  stream: string,
  group: string,
  consumer: string,
): Promise<boolean> {
  const reply = integer('release-consumer', await redis.sdReleaseConsumer(stream, group, consumer));
  return reply === 1 ? true : reply === 0 ? false : malformed('release-consumer', reply);
}

// count-after.lua

/** count-after.lua, queued on a pipeline: entries after each id (greatest first), up to `cap`. */
export function queueCountAfter(pipeline: Pipeline, stream: string, cap: number, lastIds: readonly string[]): void {
  pipeline.sdCountAfter(stream, cap, ...lastIds);
}

export function parseCountAfterReply(reply: unknown, ids: number): number[] {
  return list('count-after', reply, ids).map((count) => integer('count-after', count));
}

// trim.lua

/** trim.lua: trims a lane below `floor` to the retention bounds; the number of entries removed. */
export async function trim(
  redis: RedisClient,
  stream: string,
  bounds: Readonly<{ floor: string; ageBound: string; maxLength: number; budget: number }>,
): Promise<number> {
  const reply = await redis.sdTrim(stream, bounds.floor, bounds.ageBound, bounds.maxLength, bounds.budget);
  return integer('trim', reply);
}

// llm-gate.lua

const gateDenyReasons = ['open', 'probing', 'paused', 'concurrency', 'requests', 'tokens'] as const;
export type GateDenyReason = (typeof gateDenyReasons)[number];
const breakerStates = ['closed', 'open', 'half'] as const;
export type BreakerState = (typeof breakerStates)[number];

export type GateKeys = Readonly<{ gate: string; leases: string }>;

export type GateAcquireInput = Readonly<{
  lease: string;
  requestsPerMinute: number;
  tokensPerMinute: number;
  estimatedTokens: number;
  maxConcurrency: number;
  leaseMs: number;
}>;

export type GateReleaseInput = Readonly<{
  lease: string;
  outcome: string;
  tokenCorrection: number;
  retryAfterMs: number;
  breakerFailures: number;
  breakerOpenMs: number;
  maxConcurrency: number;
}>;

export type GateAnswer = { admitted: true } | { admitted: false; waitMs: number; reason: GateDenyReason };

function oneOf<T extends string>(values: readonly T[], reply: unknown, whole: unknown): T {
  return values.find((value) => value === reply) ?? malformed('llm-gate', whole);
}

export function parseGateAcquireReply(reply: unknown): GateAnswer {
  const [admitted, waitMs, reason] = list('llm-gate', reply, 3);
  if (integer('llm-gate', admitted) === 1) return { admitted: true };
  return {
    admitted: false,
    waitMs: Math.max(0, integer('llm-gate', waitMs)),
    reason: oneOf(gateDenyReasons, reason, reply),
  };
}

/** llm-gate.lua acquire: admits a call or says how long to wait and why. */
export async function gateAcquire(redis: RedisClient, keys: GateKeys, input: GateAcquireInput): Promise<GateAnswer> {
  const reply = await redis.sdLlmGate(
    keys.gate,
    keys.leases,
    'acquire',
    input.lease,
    input.requestsPerMinute,
    input.tokensPerMinute,
    input.estimatedTokens,
    input.maxConcurrency,
    input.leaseMs,
  );
  return parseGateAcquireReply(reply);
}

export type GateReleaseState = { window: number; breaker: BreakerState; pausedMs: number };

export function parseGateReleaseReply(reply: unknown): GateReleaseState {
  const [window, breaker, pausedMs] = list('llm-gate', reply, 3);
  return {
    window: integer('llm-gate', window) / 100,
    breaker: oneOf(breakerStates, breaker, reply),
    pausedMs: integer('llm-gate', pausedMs),
  };
}

/** llm-gate.lua release: reports how a call went; the gate's state after it. */
export async function gateRelease(
  redis: RedisClient,
  keys: GateKeys,
  input: GateReleaseInput,
): Promise<GateReleaseState> {
  const reply = await redis.sdLlmGate(
    keys.gate,
    keys.leases,
    'release',
    input.lease,
    input.outcome,
    input.tokenCorrection,
    input.retryAfterMs,
    input.breakerFailures,
    input.breakerOpenMs,
    input.maxConcurrency,
  );
  return parseGateReleaseReply(reply);
}

// mark-work.lua and work-since.lua

export type WorkKeys = Readonly<{ tenants: string; sequence: string; bell: string }>;

/** Marks tenants as having new entries; returns the sequence number they were given. */
export async function markWork(redis: RedisClient, keys: WorkKeys, tenants: readonly string[]): Promise<number> {
  return parseMarkWorkReply(await redis.sdMarkWork(keys.tenants, keys.sequence, keys.bell, ...tenants));
}

/** mark-work.lua, queued on a pipeline; read its reply with `parseMarkWorkReply`. */
export function queueMarkWork(pipeline: Pipeline, keys: WorkKeys, tenants: readonly string[]): void {
  pipeline.sdMarkWork(keys.tenants, keys.sequence, keys.bell, ...tenants);
}

export function parseMarkWorkReply(reply: unknown): number {
  return integer('mark-work', reply);
}

export type WorkSince = { bell: string; sequence: number; marked: string[] };

export function parseWorkSinceReply(reply: unknown): WorkSince {
  const [bell, sequence, marked] = list('work-since', reply, 3);
  const pairs = list('work-since', marked);
  const tenants: string[] = [];
  for (let i = 0; i < pairs.length; i += 2) tenants.push(text('work-since', pairs[i]));
  return { bell: text('work-since', bell), sequence: integer('work-since', sequence), marked: tenants };
}

/** The bell's last id, the work sequence and the tenants marked after `cursor`. */
export async function workSince(redis: RedisClient, keys: WorkKeys, cursor: number): Promise<WorkSince> {
  return parseWorkSinceReply(await redis.sdWorkSince(keys.tenants, keys.sequence, keys.bell, cursor));
}
