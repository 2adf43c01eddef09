/**
 * Phase (d): rebuilds the tickets projection from history after the end-to-end phase filled the
 * archive. The streams are trimmed first (down to their newest entry), so the rebuild reads
 * almost everything from the Postgres archive, as it would months later.
 */
import { rebuildProjection } from '../src/replay/rebuild.js';
import { ticketsProjection } from '../src/projections/tickets.js';
import { trimTenantStream } from '../src/streams/retention.js';
import type { BenchEnv } from './support/env.js';
import { coresUsed, cpuSnapshot, type CpuParties } from './support/cpu.js';
import { round } from './support/stats.js';

export type RebuildSettings = { batchSize: number; trimToLength: number };

export type RebuildResult = {
  settings: RebuildSettings & { tenants: string[] };
  trimmed: number;
  archiveEvents: number;
  streamEvents: number;
  eventsApplied: number;
  seconds: number;
  eventsPerSecond: number;
  /** The rebuilt rows equal the live ones (status, version, last event, every step's timestamp). */
  stateMatches: boolean;
  cpu: CpuParties | undefined;
};

const stateDigest = `
SELECT md5(string_agg(concat_ws('|', tenant_id, ticket_id, status, version, last_event_id, received_at, context_gathered_at, enhanced_at, written_back_at, failed_at, enhancement::text),
                      ',' ORDER BY tenant_id, ticket_id)) AS digest
  FROM tickets WHERE tenant_id = ANY($1)`;

export async function runRebuild(env: BenchEnv, tenants: string[], settings: RebuildSettings): Promise<RebuildResult> {
  const { services, config } = env;
  const { redis, keys, db } = services;
  let trimmed = 0;
  for (const tenant of tenants) {
    trimmed += (await trimTenantStream(redis, keys, db, tenant, { maxAgeMs: 0, maxLength: settings.trimToLength }))
      .trimmed;
  }
  const archiveEvents = Number(
    (await db.query<{ n: string }>('SELECT count(*) AS n FROM events WHERE tenant_id = ANY($1)', [tenants])).rows[0]!.n,
  );
  let streamEvents = 0;
  for (const tenant of tenants) streamEvents += await redis.xlen(keys.events(tenant));
  const before = (await db.query<{ digest: string }>(stateDigest, [tenants])).rows[0]!.digest;

  const cpu = cpuSnapshot();
  const started = performance.now();
  const result = await rebuildProjection({
    db,
    redis,
    keys,
    projection: ticketsProjection,
    schema: config.databaseSchema,
    tenants,
    restart: true,
    batchSize: settings.batchSize,
  });
  const seconds = (performance.now() - started) / 1_000;
  const cores = coresUsed(cpu, cpuSnapshot());

  const after = (await db.query<{ digest: string }>(stateDigest, [tenants])).rows[0]!.digest;
  return {
    settings: { ...settings, tenants },
    trimmed,
    archiveEvents,
    streamEvents,
    eventsApplied: result.events,
    seconds: round(seconds, 2),
    eventsPerSecond: round(result.events / seconds, 0),
    stateMatches: before === after,
    cpu: cores,
  };
}
