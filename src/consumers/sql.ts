import { sqlFiles } from '../sql-files.js';

/** The stages' SQL statements. */
export const stageSql = sqlFiles(new URL('./sql/', import.meta.url), {
  similarTickets: 'similar-tickets',
  kbArticles: 'kb-articles',
  assetsByIp: 'assets-by-ip',
  findWriteback: 'find-writeback',
  recordWriteback: 'record-writeback',
  receivedTicket: 'received-ticket',
});
