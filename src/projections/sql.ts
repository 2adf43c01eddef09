import { readFileSync } from 'node:fs';

const load = (name: string) => readFileSync(new URL(`./sql/${name}.sql`, import.meta.url), 'utf8');

/** SQL statements, one per file; each file's header documents its parameters. */
export const sql = {
  ticketReceived: load('ticket-received'),
  ticketStep: load('ticket-step'),
  saveCheckpoint: load('save-checkpoint'),
  archiveEvents: load('archive-events'),
};
