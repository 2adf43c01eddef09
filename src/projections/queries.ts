import type { Db } from './db.js';

export type TicketRow = Record<string, unknown> & { tenant_id: string; ticket_id: string; status: string };

/** The projected ticket and its archived events, or undefined. Always scoped to one tenant. */
export async function findTicket(
  db: Db,
  tenant: string,
  ticketId: string,
): Promise<{ ticket: TicketRow; events: Record<string, unknown>[] } | undefined> {
  const { rows } = await db.query<TicketRow>(
    'SELECT tenant_id, ticket_id, status, subject, description, priority, category, requester, context, enhancement, writeback, failure, created_at, received_at, context_gathered_at, enhanced_at, written_back_at, failed_at, updated_at, last_event_id, last_stream_id, version FROM tickets WHERE tenant_id = $1 AND ticket_id = $2',
    [tenant, ticketId],
  );
  const ticket = rows[0];
  if (!ticket) return undefined;
  const events = await db.query(
    'SELECT stream_id, event_id, type, version, causation_id, correlation_id, traceparent, replay_id, data, occurred_at, recorded_at FROM events WHERE tenant_id = $1 AND ticket_id = $2 ORDER BY stream_position(stream_id)',
    [tenant, ticketId],
  );
  return { ticket, events: events.rows };
}
