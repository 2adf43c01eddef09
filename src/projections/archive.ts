import type { Projection } from './projection.js';
import { sql } from './sql.js';
import { archiveTable, groupNames } from '../streams/groups.js';

/** Archives every event into Postgres `events`, one statement per batch, idempotent on event id. */
export const archiveProjection: Projection = {
  name: archiveTable,
  group: groupNames.archiver,
  async applyBatch(client, _tenant, entries) {
    const events = entries.map((entry) => entry.event);
    await client.query(sql.archiveEvents, [
      events.map((event) => event.tenant),
      entries.map((entry) => entry.streamId),
      events.map((event) => event.id),
      events.map((event) => event.type),
      events.map((event) => event.v),
      events.map((event) => event.ticket),
      events.map((event) => event.causation),
      events.map((event) => event.correlation),
      events.map((event) => event.traceparent),
      events.map((event) => event.replay ?? null),
      events.map((event) => JSON.stringify(event.data)),
      events.map((event) => new Date(event.ts)),
    ]);
  },
};
