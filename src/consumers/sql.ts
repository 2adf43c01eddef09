import { readFileSync } from 'node:fs';

const load = (name: string) => readFileSync(new URL(`./sql/${name}.sql`, import.meta.url), 'utf8');

/** The stages' SQL statements, one per file; each file's header documents its parameters. */
export const stageSql = {
  similarTickets: load('similar-tickets'),
  kbArticles: load('kb-articles'),
  assetsByIp: load('assets-by-ip'),
  findWriteback: load('find-writeback'),
  recordWriteback: load('record-writeback'),
  receivedTicket: load('received-ticket'),
};
