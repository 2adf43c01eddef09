import type { TicketEvent } from '../events.js';
import type { StreamEvent } from '../streams/processor.js';

/** What an event put into one group of a ticket's columns, where it stands in the stream, and when it occurred (ms). */
type Filled<T> = { value: T; position: bigint; at: number };

/**
 * A batch's events of one ticket folded into one change, by the rules the row itself follows
 * (ticket-changes.sql): each column group holds what the newest event that fills it put there.
 */
export type TicketChange = {
  tenant: string;
  ticket: string;
  /** Every event folded in, each once (lower case, as Postgres prints a uuid). */
  eventIds: string[];
  /** The newest event: it decides status, last_event_id and updated_at. */
  last: { eventId: string; streamId: string; position: bigint; status: Status; at: number };
  ticketFields?: Filled<{ subject: string; description: string }>;
  priority?: Filled<string>;
  category?: Filled<string>;
  requester?: Filled<unknown>;
  /** The earliest creation time the helpdesk reported (ISO string as received). */
  createdAt?: { value: string; ms: number };
  /** Step results; a failure only while no success in the change came after it. */
  context?: Filled<unknown>;
  enhancement?: Filled<unknown>;
  writeback?: Filled<unknown>;
  failure?: Filled<unknown>;
  /** A ticket.written_back of live processing (not a replay) is among the events: the latency metric counts it. */
  liveWriteback: boolean;
};

type Status = 'received' | 'context_gathered' | 'enhanced' | 'written_back' | 'failed';
type StepEvent = Exclude<TicketEvent, { type: 'ticket.received' }>;
type StepGroup = 'context' | 'enhancement' | 'writeback' | 'failure';

const steps = {
  'ticket.context_gathered': { status: 'context_gathered', group: 'context' },
  'ticket.enhanced': { status: 'enhanced', group: 'enhancement' },
  'ticket.written_back': { status: 'written_back', group: 'writeback' },
  'ticket.failed': { status: 'failed', group: 'failure' },
} as const satisfies Record<StepEvent['type'], { status: Status; group: StepGroup }>;

/** A stream id as one ordered number, as stream_position() computes it in Postgres. */
export function streamPosition(streamId: string): bigint {
  const [ms = '0', seq = '0'] = streamId.split('-');
  return (BigInt(ms) << 64n) + BigInt(seq);
}

function stepResult(event: StepEvent): unknown {
  switch (event.type) {
    case 'ticket.context_gathered':
      return event.data.context;
    case 'ticket.enhanced':
      return {
        ...event.data.enhancement,
        model: event.data.model,
        tokens: event.data.tokens,
        latencyMs: event.data.latencyMs,
        eventId: event.id,
        ...(event.data.costUsd !== undefined ? { costUsd: event.data.costUsd } : {}),
        ...(event.data.budget ? { budget: event.data.budget } : {}),
      };
    case 'ticket.written_back':
      return event.data;
    case 'ticket.failed':
      return {
        stage: event.data.stage,
        code: event.data.error.code,
        message: event.data.error.message,
        attempts: event.data.attempts,
        eventId: event.data.failedEventId,
      };
  }
}

/** The newer of what a group holds and what an event offers (a tie keeps what it holds). */
function newer<T>(current: Filled<T> | undefined, offered: Filled<T>): Filled<T> {
  return current && current.position >= offered.position ? current : offered;
}

function foldEvent(change: TicketChange, event: TicketEvent, at: Omit<Filled<unknown>, 'value'>): void {
  if (event.type !== 'ticket.received') {
    const { group } = steps[event.type];
    const current = change[group];
    if (!current || current.position < at.position) change[group] = { ...at, value: stepResult(event) };
    if (event.type === 'ticket.written_back' && !event.replay) change.liveWriteback = true;
    return;
  }
  const { ticket } = event.data;
  change.ticketFields = newer(change.ticketFields, { ...at, value: ticket });
  if (ticket.priority !== undefined) change.priority = newer(change.priority, { ...at, value: ticket.priority });
  if (ticket.category !== undefined) change.category = newer(change.category, { ...at, value: ticket.category });
  if (ticket.requester) change.requester = newer<unknown>(change.requester, { ...at, value: ticket.requester });
  if (ticket.createdAt !== undefined) {
    const ms = Date.parse(ticket.createdAt);
    if (!change.createdAt || ms < change.createdAt.ms) change.createdAt = { value: ticket.createdAt, ms };
  }
}

/**
 * Folds a batch into one change per ticket, sorted by tenant and ticket (concurrent projectors then
 * lock rows in the same order). Pure: the order of the batch does not matter, except that of two
 * entries with the same event id only the first counts (as when the row already holds the id).
 */
export function foldTicketEvents(entries: readonly StreamEvent[]): TicketChange[] {
  const changes = new Map<string, TicketChange>();
  const seen = new Set<string>();
  for (const { streamId, event } of entries) {
    if (seen.has(event.id)) continue;
    seen.add(event.id);
    const position = streamPosition(streamId);
    const at = { position, at: event.ts };
    const status: Status = event.type === 'ticket.received' ? 'received' : steps[event.type].status;
    const last = { eventId: event.id, streamId, position, status, at: event.ts };
    const key = `${event.tenant}\u0000${event.ticket}`;
    let change = changes.get(key);
    if (!change) {
      change = { tenant: event.tenant, ticket: event.ticket, eventIds: [], last, liveWriteback: false };
      changes.set(key, change);
    } else if (change.last.position < position) change.last = last;
    change.eventIds.push(event.id.toLowerCase());
    foldEvent(change, event, at);
  }
  const result = [...changes.values()];
  for (const change of result) {
    const lastSuccess = [change.context, change.enhancement, change.writeback].reduce(
      (max, group) => (group && group.position > max ? group.position : max),
      -1n,
    );
    if (change.failure && change.failure.position <= lastSuccess) delete change.failure;
  }
  return result.sort((a, b) =>
    a.tenant !== b.tenant ? (a.tenant < b.tenant ? -1 : 1) : a.ticket < b.ticket ? -1 : a.ticket > b.ticket ? 1 : 0,
  );
}
