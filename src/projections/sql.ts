import { sqlFiles } from '../sql-files.js';

/** The projections' SQL statements. */
export const sql = sqlFiles(new URL('./sql/', import.meta.url), {
  ticketChanges: 'ticket-changes',
  saveCheckpoint: 'save-checkpoint',
  archiveEvents: 'archive-events',
  findTicket: 'find-ticket',
  ticketEvents: 'ticket-events',
});
