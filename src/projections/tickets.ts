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

/** Applies one event to `tickets` (whichever `tickets` the connection's search_path finds first). */
export async function applyTicketEvent(client: DbClient, { streamId, event }: StreamEvent): Promise<void> {
  const occurredAt = new Date(event.ts);
  if (event.type === 'ticket.received') {
    const ticket = event.data.ticket;
    await client.query(sql.ticketReceived, [
      event.tenant, event.ticket, event.id, streamId, occurredAt, ticket.subject, ticket.description,
      ticket.priority ?? null, ticket.category ?? null, ticket.requester ?? null, ticket.createdAt ?? null,
    ]);
    return;
  }
  await client.query(sql.ticketStep, [event.tenant, event.ticket, event.id, streamId, occurredAt, stepStatus[event.type], JSON.stringify(stepResult(event))]);
}

export const ticketsProjection: Projection = {
  name: 'tickets',
  group: 'projector',
  tables: ['tickets'],
  async applyBatch(client, _tenant, entries) {
    for (const entry of entries) await applyTicketEvent(client, entry);
  },
};
