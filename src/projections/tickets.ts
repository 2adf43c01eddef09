import type { TicketEvent } from '../events.js';
import type { StreamEvent } from '../streams/processor.js';
import type { DbClient } from './db.js';
import type { Projection } from './projection.js';
import { sql } from './sql.js';

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
      return { ...event.data.enhancement, model: event.data.model, tokens: event.data.tokens, latencyMs: event.data.latencyMs, eventId: event.id };
    case 'ticket.written_back':
      return event.data;
    case 'ticket.failed':
      return { stage: event.data.stage, code: event.data.error.code, message: event.data.error.message, attempts: event.data.attempts, eventId: event.data.failedEventId };
  }
}

/**
 * Applies one event to `tickets` (whichever `tickets` the connection's search_path finds first).
 * Returns the ticket's received → written back time in ms when this event wrote it back.
 */
export async function applyTicketEvent(client: DbClient, { streamId, event }: StreamEvent): Promise<number | undefined> {
  const occurredAt = new Date(event.ts);
  if (event.type === 'ticket.received') {
    const ticket = event.data.ticket;
    await client.query(sql.ticketReceived, [
      event.tenant, event.ticket, event.id, streamId, occurredAt, ticket.subject, ticket.description,
      ticket.priority ?? null, ticket.category ?? null, ticket.requester ?? null, ticket.createdAt ?? null,
    ]);
    return undefined;
  }
  const { rows } = await client.query<{ written_back_after_ms: number | null }>(sql.ticketStep, [event.tenant, event.ticket, event.id, streamId, occurredAt, stepStatus[event.type], JSON.stringify(stepResult(event))]);
  return event.type === 'ticket.written_back' ? (rows[0]?.written_back_after_ms ?? undefined) : undefined;
}

export const ticketsProjection: Projection = {
  name: 'tickets',
  group: 'projector',
  tables: ['tickets'],
  async applyBatch(client, tenant, entries) {
    const completedTickets: { tenant: string; latencyMs: number }[] = [];
    for (const entry of entries) {
      const latencyMs = await applyTicketEvent(client, entry);
      if (latencyMs !== undefined && !entry.event.replay) completedTickets.push({ tenant, latencyMs });
    }
    return { completedTickets };
  },
};
