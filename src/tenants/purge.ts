import { Cluster } from 'ioredis';
import { inTransaction, type Db } from '../projections/db.js';
import { sqlFiles } from '../sql-files.js';
import type { RedisKeys } from '../streams/keys.js';
import type { RedisClient } from '../streams/redis.js';
import type { TenantRegistry } from './registry.js';

const sql = sqlFiles(new URL('./sql/', import.meta.url), { purgeTenant: 'purge-tenant' });

export type PurgeReport = {
  tenant: string;
  /** Whether a registration (entity and id) was removed. */
  registration: boolean;
  /** Every Redis key under the tenant's hash tag: both lanes, DLQ, delivery and dedupe markers, retry state. */
  redis: { keys: number; streamEntries: number; deadLetters: number };
  /** Rows removed per Postgres table (the archive is `events`). */
  postgres: Record<string, number>;
};

/**
 * Deletes a tenant and, with `purge`, everything stored for it. The registration goes first, so
 * webhooks are refused and consumers stop reading the tenant (within their 1 s discovery) before
 * its keys and rows are removed. Safe to run again: a second run removes what a late writer left.
 */
export async function deleteTenant(
  deps: { registry: TenantRegistry; redis: RedisClient; keys: RedisKeys; db: Db },
  tenant: string,
  options: { purge: boolean },
): Promise<PurgeReport> {
  const { registry, redis, keys, db } = deps;
  const registration = await registry.remove(tenant);
  const report: PurgeReport = {
    tenant,
    registration,
    redis: { keys: 0, streamEntries: 0, deadLetters: 0 },
    postgres: {},
  };
  if (!options.purge) return report;

  const [streamEntries, priorityEntries, deadLetters] = await Promise.all([
    redis.xlen(keys.events(tenant)),
    redis.xlen(keys.priorityEvents(tenant)),
    redis.xlen(keys.dlq(tenant)),
  ]);
  report.redis.streamEntries = streamEntries + priorityEntries;
  report.redis.deadLetters = deadLetters;
  const nodes = redis instanceof Cluster ? redis.nodes('master') : [redis];
  for (const node of nodes) {
    let cursor = '0';
    do {
      const [next, found] = await node.scan(cursor, 'MATCH', keys.tenantKeyPattern(tenant), 'COUNT', 1_000);
      // All of them carry the tenant's hash tag, so one UNLINK is one slot even on a cluster.
      if (found.length > 0) report.redis.keys += await node.unlink(...found);
      cursor = next;
    } while (cursor !== '0');
  }
  await redis.zrem(keys.workTenants, tenant, keys.workMark(tenant, 'normal'), keys.workMark(tenant, 'priority'));
  const rows = await inTransaction(db, (client) =>
    client.query<{ purged_table: string; removed_rows: string }>(sql.purgeTenant, [tenant]),
  );
  for (const row of rows.rows) report.postgres[row.purged_table] = Number(row.removed_rows);
  return report;
}
