import type { TicketEvent, TicketEventOf } from '../events.js';
import type { StreamEvent } from '../streams/processor.js';
import type { DbClient } from './db.js';
import type { Projection } from './projection.js';
import { sql } from './sql.js';
import { groupNames } from '../streams/groups.js';

const stepStatus = {
  'ticket.context_gathered': 'context_gathered',
  'ticket.enhanced': 'enhanced',
  'ticket.written_back': 'written_back',
  'ticket.failed': 'failed',
} as const;

function stepResult(event: Exclude<TicketEvent, { type: 'ticket.received' }>): unknown {
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

/**
 * Splits a batch into rounds in which each ticket appears at most once (one statement can then apply
 * a whole round): round k holds each ticket's k-th event. The projection does not depend on the
 * order events are applied in; a round is sorted by ticket so that concurrent projectors lock the
 * rows of one statement in the same order, which keeps deadlocks between them rare.
 */
function rounds(entries: readonly StreamEvent[]): StreamEvent[][] {
  const seen = new Map<string, number>();
  const result: StreamEvent[][] = [];
  for (const entry of entries) {
    const round = seen.get(entry.event.ticket) ?? 0;
    seen.set(entry.event.ticket, round + 1);
    (result[round] ??= []).push(entry);
  }
  for (const round of result)
    round.sort((a, b) => (a.event.ticket < b.event.ticket ? -1 : a.event.ticket > b.event.ticket ? 1 : 0));
  return result;
}

type ReceivedEntry = StreamEvent & { event: TicketEventOf<'ticket.received'> };
type StepEntry = StreamEvent & { event: Exclude<TicketEvent, { type: 'ticket.received' }> };

async function applyReceived(client: DbClient, entries: readonly ReceivedEntry[]): Promise<void> {
  const tickets = entries.map(({ event }) => event.data.ticket);
  await client.query(sql.ticketReceived, [
    entries.map(({ event }) => event.tenant),
    entries.map(({ event }) => event.ticket),
    entries.map(({ event }) => event.id),
    entries.map(({ streamId }) => streamId),
    entries.map(({ event }) => new Date(event.ts)),
    tickets.map((ticket) => ticket.subject),
    tickets.map((ticket) => ticket.description),
    tickets.map((ticket) => ticket.priority ?? null),
    tickets.map((ticket) => ticket.category ?? null),
    tickets.map((ticket) => (ticket.requester ? JSON.stringify(ticket.requester) : null)),
    tickets.map((ticket) => ticket.createdAt ?? null),
  ]);
}

/** Returns the tickets this round wrote back, with their received → written back time. */
async function applySteps(
  client: DbClient,
  entries: readonly StepEntry[],
): Promise<{ ticket: string; latencyMs: number }[]> {
  const { rows } = await client.query<{ ticket_id: string; status: string; written_back_after_ms: number | null }>(
    sql.ticketStep,
    [
      entries.map(({ event }) => event.tenant),
      entries.map(({ event }) => event.ticket),
      entries.map(({ event }) => event.id),
      entries.map(({ streamId }) => streamId),
      entries.map(({ event }) => new Date(event.ts)),
      entries.map(({ event }) => stepStatus[event.type]),
      entries.map(({ event }) => JSON.stringify(stepResult(event))),
    ],
  );
  // A round holds one event per ticket: a row returned for a ticket is that event's effect.
  const writtenBack = new Set(
    entries
      .filter(({ event }) => event.type === 'ticket.written_back' && !event.replay)
      .map(({ event }) => event.ticket),
  );
  return rows
    .filter(
      (row) => writtenBack.has(row.ticket_id) && row.status === 'written_back' && row.written_back_after_ms !== null,
    )
    .map((row) => ({ ticket: row.ticket_id, latencyMs: row.written_back_after_ms! }));
}

/** Folds events into `tickets` (whichever `tickets` the connection's search_path finds first). */
export const ticketsProjection: Projection = {
  name: 'tickets',
  group: groupNames.projector,
  tables: ['tickets'],
  async applyBatch(client, tenant, entries) {
    const completedTickets: { tenant: string; latencyMs: number }[] = [];
    for (const round of rounds(entries)) {
      const received = round.filter((entry): entry is ReceivedEntry => entry.event.type === 'ticket.received');
      const steps = round.filter((entry): entry is StepEntry => entry.event.type !== 'ticket.received');
      if (received.length > 0) await applyReceived(client, received);
      if (steps.length > 0)
        for (const { latencyMs } of await applySteps(client, steps)) completedTickets.push({ tenant, latencyMs });
    }
    return { completedTickets };
  },
};
