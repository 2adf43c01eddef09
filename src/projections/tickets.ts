import type { DbClient } from './db.js';
import type { Projection } from './projection.js';
import { sql } from './sql.js';
import { foldTicketEvents, type TicketChange } from './ticket-fold.js';
import { groupNames } from '../streams/groups.js';

const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());

/** A change as the JSON record ticket-changes.sql reads: keys are the columns; a missing key is NULL. */
function changeRecord(change: TicketChange): Record<string, unknown> {
  const { ticketFields, priority, category, requester, context, enhancement, writeback, failure } = change;
  return {
    tenant_id: change.tenant,
    ticket_id: change.ticket,
    // Sorted as Postgres sorts uuids (their lower-case text), as the row keeps them.
    event_ids: change.eventIds.sort(),
    status: change.last.status,
    last_event_id: change.last.eventId,
    last_stream_id: change.last.streamId,
    updated_at: iso(change.last.at),
    subject: ticketFields?.value.subject,
    description: ticketFields?.value.description,
    received_at: iso(ticketFields?.at),
    ticket_position: ticketFields?.position.toString(),
    priority: priority?.value,
    priority_position: priority?.position.toString(),
    category: category?.value,
    category_position: category?.position.toString(),
    requester: requester?.value,
    requester_position: requester?.position.toString(),
    created_at: change.createdAt?.value,
    context: context?.value,
    context_gathered_at: iso(context?.at),
    context_position: context?.position.toString(),
    enhancement: enhancement?.value,
    enhanced_at: iso(enhancement?.at),
    enhancement_position: enhancement?.position.toString(),
    writeback: writeback?.value,
    written_back_at: iso(writeback?.at),
    writeback_position: writeback?.position.toString(),
    failure: failure?.value,
    failed_at: iso(failure?.at),
    failure_position: failure?.position.toString(),
  };
}

/** Returns the tickets that changed, with their status and received → written back time. */
async function applyChanges(client: DbClient, changes: readonly TicketChange[]) {
  // One JSON document: serialised in one call, parsed by Postgres in one pass, no array escaping.
  const { rows } = await client.query<{ ticket_id: string; status: string; written_back_after_ms: number | null }>(
    sql.ticketChanges,
    [JSON.stringify(changes.map(changeRecord))],
  );
  return rows;
}

/** Folds events into `tickets` (whichever `tickets` the connection's search_path finds first). */
export const ticketsProjection: Projection = {
  name: 'tickets',
  group: groupNames.projector,
  tables: ['tickets'],
  async applyBatch(client, tenant, entries) {
    const changes = foldTicketEvents(entries);
    const rows = await applyChanges(client, changes);
    // Counted once per change that moved the row; a change whose ticket.written_back was applied
    // before but which brought another new event of the ticket counts it again (rare: a metric only).
    const writtenBack = new Set(changes.filter((change) => change.liveWriteback).map((change) => change.ticket));
    const completedTickets = rows
      .filter(
        (row) => writtenBack.has(row.ticket_id) && row.status === 'written_back' && row.written_back_after_ms !== null,
      )
      .map((row) => ({ tenant, latencyMs: row.written_back_after_ms! }));
    return { completedTickets };
  },
};
