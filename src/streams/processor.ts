import type { StreamdeskError } from '../errors.js';
import type { EventData, EventType, TicketEvent } from '../events.js';

/** When and how often a group retries an entry whose handler failed. */
export type RetryPolicy = Readonly<{
  /** Handler runs before the entry is dead-lettered. */
  maxAttempts: number;
  /** First backoff; doubles per failure, with jitter. */
  baseMs: number;
  maxMs: number;
  /** An entry idle longer than this on its consumer is taken over by another consumer. */
  claimIdleMs: number;
}>;

/** An event as read from a tenant's stream. */
export type StreamEvent = Readonly<{ streamId: string; event: TicketEvent }>;

/** A follow-on event as a handler returns it; the runner gives it its id and envelope. */
export type FollowOn = { [T in EventType]: { type: T; data: EventData<T> } }[EventType];

/**
 * `traceparent`: the W3C traceparent the events this outcome emits carry (follow-ons, or
 * ticket.failed), normally the span of the handler call; absent, they carry the input's.
 */
export type Outcome =
  | { ok: true; emit: FollowOn[]; traceparent?: string | undefined }
  | { ok: false; error: StreamdeskError; traceparent?: string | undefined };

export type ProcessContext = Readonly<{
  group: string;
  tenant: string;
  /** Aborted when the process shuts down: long calls should give up and leave the entry pending. */
  signal: AbortSignal;
  /** 1 for the first run of the entry; the retry number after that. */
  attempts: ReadonlyMap<string, number>;
}>;

/**
 * What the shared runner drives: a stage (one handler call per event) or a projection (a
 * transaction per batch). Returns one outcome per event, in order.
 */
export interface GroupProcessor {
  readonly group: string;
  readonly handles: readonly EventType[] | 'all';
  /** Apply a tenant's events strictly in stream order (projections), or concurrently (stages). */
  readonly ordered: boolean;
  /** Emit `ticket.failed` when an entry is dead-lettered. */
  readonly emitsFailures: boolean;
  readonly concurrency: number;
  readonly retry?: Partial<RetryPolicy>;
  /** True while a tenant's new entries should stay unread (its entries would only wait, holding slots other tenants could use). */
  holdsBack?(tenant: string): boolean;
  process(entries: readonly StreamEvent[], ctx: ProcessContext): Promise<Outcome[]>;
}

/**
 * Delay before the next attempt: baseMs doubled per failure so far, plus up to 50 % jitter so that
 * entries that failed together do not retry together; never under the exponential step, never over maxMs.
 */
export function backoffMs(
  failures: number,
  policy: Pick<RetryPolicy, 'baseMs' | 'maxMs'>,
  random = Math.random,
): number {
  const step = policy.baseMs * 2 ** Math.max(0, failures - 1);
  return Math.round(Math.min(policy.maxMs, step * (1 + random() * 0.5)));
}
