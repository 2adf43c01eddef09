import type { Db } from './db.js';
import { sql } from './sql.js';

export type TicketRow = Record<string, unknown> & { tenant_id: string; ticket_id: string; status: string };

/** The projected ticket and its archived events, or undefined. Always scoped to one tenant. */
export async function findTicket(
  db: Db,
  tenant: string,
  ticketId: string,
): Promise<{ ticket: TicketRow; events: Record<string, unknown>[] } | undefined> {
  const { rows } = await db.query<TicketRow>(sql.findTicket, [tenant, ticketId]);
  const ticket = rows[0];
  if (!ticket) return undefined;
  const events = await db.query(sql.ticketEvents, [tenant, ticketId]);
  return { ticket, events: events.rows };
}
