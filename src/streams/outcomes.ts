import { StreamdeskError, isOutage, redactCredentials } from '../errors.js';
import type { EventType, TicketEvent } from '../events.js';
import { deadLetterFields } from './dlq.js';
import { failedEvent, followOnEvent } from './follow-on.js';
import type { Lane } from './lanes.js';
import { backoffMs, type Outcome, type RetryPolicy } from './processor.js';
import type { RetryRecord } from './retry-records.js';

/**
 * What to do with each entry of a batch, given its outcome: no I/O here (the runner settles, logs
 * and waits as these decisions say), so every rule of acknowledging, retrying and dead-lettering
 * lives in one place.
 */

/** What classification needs of an entry. */
export type EntryState = Readonly<{
  streamId: string;
  lane: Lane;
  fields: readonly string[];
  /** Undefined: the entry could not be decoded (see `decodeError`). */
  event: TicketEvent | undefined;
  decodeError?: StreamdeskError | undefined;
  /** Failures so far that used an attempt. */
  failures: number;
  firstFailedAt: number | undefined;
  /** Times Redis handed the entry out. */
  deliveries: number;
}>;

export type Decision =
  /** Emit these follow-on events and acknowledge. */
  | { action: 'ack'; events: TicketEvent[] }
  /** Not the entry's fault (an outage, a rate limit or a budget): retry without using an attempt. */
  | { action: 'wait'; code: string; message: string; retryAfterMs: number | undefined }
  /** Failed with attempts left: record the failure and retry after a backoff. */
  | {
      action: 'retry';
      code: string;
      message: string;
      retryAfterMs: number | undefined;
      failures: number;
      firstFailedAt: number;
      record: RetryRecord;
    }
  /** Out of attempts, or a permanent error: dead-letter it, emitting `events` (ticket.failed, if the group does). */
  | {
      action: 'dead-letter';
      code: string;
      message: string;
      retryAfterMs: number | undefined;
      attempts: number;
      deadLetter: string[];
      events: TicketEvent[];
    };

export type ClassifyContext = Readonly<{
  group: string;
  policy: Pick<RetryPolicy, 'maxAttempts'>;
  /** The group emits ticket.failed for what it dead-letters. */
  emitsFailures: boolean;
  now: number;
}>;

/**
 * The outcome of an entry the processor is not asked about: it could not be decoded, it was
 * delivered so often that its consumers keep dying on it, or the group does not handle its type.
 * Undefined: process it.
 */
export function presetOutcome(
  entry: EntryState,
  policy: Pick<RetryPolicy, 'maxAttempts'>,
  handles: readonly EventType[] | 'all',
): Outcome | undefined {
  if (entry.decodeError || !entry.event) {
    const error = entry.decodeError ?? new StreamdeskError('INVALID_EVENT', 'The entry was not decoded');
    return { ok: false, error };
  }
  if (entry.deliveries > policy.maxAttempts + 3) {
    const message = `Delivered ${entry.deliveries} times without being settled: its consumers kept dying`;
    return { ok: false, error: new StreamdeskError('HANDLER_FAILED', message, undefined, { retryable: false }) };
  }
  if (handles !== 'all' && !handles.includes(entry.event.type)) return { ok: true, emit: [] };
  return undefined;
}

/** The decision for one entry. */
export function classify(entry: EntryState, outcome: Outcome, ctx: ClassifyContext): Decision {
  if (outcome.ok) {
    const input = entry.event;
    const traceparent = outcome.traceparent ?? input?.traceparent ?? '';
    const events = input
      ? outcome.emit.map((followOn, index) => followOnEvent(input, followOn, { group: ctx.group, index, traceparent }))
      : [];
    return { action: 'ack', events };
  }
  const { error } = outcome;
  // What is logged, dead-lettered or put in ticket.failed never carries credentials from a URL.
  const failure = { code: error.code, message: redactCredentials(error.message), retryAfterMs: error.retryAfterMs };
  if (isOutage(error)) return { action: 'wait', ...failure };
  const failures = entry.failures + 1;
  const firstFailedAt = entry.firstFailedAt ?? ctx.now;
  if (error.retryable && failures < ctx.policy.maxAttempts) {
    const record = { failures, firstFailedAt, lastError: `${failure.code}: ${failure.message}` };
    return { action: 'retry', ...failure, failures, firstFailedAt, record };
  }
  const deadLetter = deadLetterFields({
    entry: entry.streamId,
    lane: entry.lane,
    group: ctx.group,
    code: failure.code,
    message: failure.message,
    attempts: failures,
    firstFailedAt: new Date(firstFailedAt).toISOString(),
    lastFailedAt: new Date(ctx.now).toISOString(),
    fields: entry.fields,
  });
  const announce = {
    group: ctx.group,
    streamId: entry.streamId,
    code: failure.code,
    message: failure.message,
    attempts: failures,
    traceparent: outcome.traceparent ?? entry.event?.traceparent ?? '',
  };
  const events = entry.event && ctx.emitsFailures ? [failedEvent(entry.event, announce)] : [];
  return { action: 'dead-letter', ...failure, attempts: failures, deadLetter, events };
}

/** The decisions for a batch: one per entry, in order. */
export function classifyAll(
  entries: readonly EntryState[],
  outcomes: readonly Outcome[],
  ctx: ClassifyContext,
): Decision[] {
  return entries.map((entry, index) =>
    classify(
      entry,
      outcomes[index] ?? { ok: false, error: new StreamdeskError('INTERNAL', 'The processor returned no outcome') },
      ctx,
    ),
  );
}

/** What the backoff needs of an entry that waits for its next run. */
export type Waiting = Readonly<{ failures: number; outages: number; retryAfterMs: number | undefined }>;

/**
 * How long a batch's waiting entries wait before their next run, and the attempt that run is: the
 * backoff after the most failures (or outages) among them, never shorter than a peer's Retry-After.
 */
export function retryDelay(
  waiting: readonly Waiting[],
  policy: Pick<RetryPolicy, 'baseMs' | 'maxMs'>,
  random = Math.random,
): { delayMs: number; attempt: number } {
  const failures = Math.max(1, ...waiting.map((entry) => Math.max(entry.failures, entry.outages)));
  // A peer that said when to come back (Retry-After) is not asked again sooner.
  const delayMs = Math.max(backoffMs(failures, policy, random), ...waiting.map((entry) => entry.retryAfterMs ?? 0));
  return { delayMs, attempt: failures + 1 };
}
