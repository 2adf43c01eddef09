import type { Logger } from 'pino';
import type { Config } from '../config/config.js';
import { openDatabase, type Db } from '../projections/db.js';
import { migrate } from '../projections/migrate.js';
import { redisKeys, type RedisKeys } from '../streams/keys.js';
import { createRedis, waitForRedis, type RedisClient } from '../streams/redis.js';
import { TenantRegistry } from '../tenants/registry.js';
import { createMetrics, type Metrics } from '../telemetry/metrics.js';

export type Services = {
  config: Config;
  logger: Logger;
  keys: RedisKeys;
  /** Commands that wait for Redis to come back. */
  redis: RedisClient;
  /** Commands that fail fast when Redis is down (the webhook path). */
  ingestRedis: RedisClient;
  registry: TenantRegistry;
  db: Db;
  metrics: Metrics;
  /** A new connection for one runner's blocking reads. */
  blockingRedis(): RedisClient;
  close(): Promise<void>;
};

/** Connects to Redis and Postgres (creating the database and applying migrations). */
export async function openServices(
  config: Config,
  logger: Logger,
  options: { metrics?: Metrics } = {},
): Promise<Services> {
  const redis = createRedis(config, 'commands');
  const ingestRedis = createRedis(config, 'ingest');
  const blocking: RedisClient[] = [];
  const closeRedis = async () => {
    for (const client of [redis, ingestRedis, ...blocking]) client.disconnect();
  };
  try {
    await Promise.all([waitForRedis(redis), waitForRedis(ingestRedis)]);
  } catch (error) {
    await closeRedis();
    throw new Error(
      `Cannot reach Redis at ${config.redisClusterNodes ? 'REDIS_CLUSTER_NODES' : config.redisUrl.replace(/\/\/[^@]*@/, '//***@')}: ${(error as Error).message}`,
    );
  }
  let db: Db;
  try {
    db = await openDatabase(config);
    const applied = await migrate(db);
    if (applied.length > 0) logger.info({ applied }, 'database migrated');
  } catch (error) {
    await closeRedis();
    throw new Error(
      `Cannot prepare Postgres at ${config.databaseUrl.replace(/\/\/[^@]*@/, '//***@')}: ${(error as Error).message}`,
    );
  }
  const registry = await TenantRegistry.connect(config);
  return {
    config,
    logger,
    keys: redisKeys(config.redisPrefix),
    redis,
    ingestRedis,
    registry,
    db,
    metrics: options.metrics ?? createMetrics({ tenantLabel: config.metricsTenantLabel }),
    blockingRedis() {
      const client = createRedis(config, 'blocking');
      blocking.push(client);
      return client;
    },
    async close() {
      await registry.close();
      await Promise.all(
        [redis, ingestRedis, ...blocking].map((client) => client.quit().catch(() => client.disconnect())),
      );
      await db.end().catch(() => undefined);
    },
  };
}
