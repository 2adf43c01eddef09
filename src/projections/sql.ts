import { sqlFiles } from '../sql-files.js';

/** The projections' SQL statements. */
export const sql = sqlFiles(new URL('./sql/', import.meta.url), {
  ticketReceived: 'ticket-received',
  ticketStep: 'ticket-step',
  saveCheckpoint: 'save-checkpoint',
  archiveEvents: 'archive-events',
  findTicket: 'find-ticket',
  ticketEvents: 'ticket-events',
});
