import { randomBytes } from 'node:crypto';
import { Cluster } from 'ioredis';
import pg from 'pg';
import { pino } from 'pino';
import { loadConfig, type Config } from '../../src/config/config.js';
import { openServices, type Services } from '../../src/runtime/services.js';
import { createMetrics } from '../../src/telemetry/metrics.js';
import { createRedis, waitForRedis } from '../../src/streams/redis.js';

export const testDatabaseUrl = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/streamdesk_test';
export const testRedisUrl = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

export type TestEnv = {
  /** Unique per test: Redis key prefix and Postgres schema share it. */
  id: string;
  env: Record<string, string>;
  config: Config;
  services: Services;
  cleanup(): Promise<void>;
};

/** Environment variables that isolate a test (or a child process it starts) from every other test. */
export function isolatedEnv(id: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    REDIS_URL: testRedisUrl,
    REDIS_PREFIX: `t-${id}`,
    DATABASE_URL: testDatabaseUrl,
    DATABASE_SCHEMA: `t_${id}`,
    LOG_LEVEL: 'silent',
    ADMIN_TOKEN: 'test-admin-token-0123456789',
    PORT: '0',
    HOST: '127.0.0.1',
    // The tests' fake helpdesks listen on 127.0.0.1.
    WRITEBACK_ALLOW_PRIVATE: 'true',
    ...extra,
  };
}

export function uniqueId(): string {
  return randomBytes(5).toString('hex');
}

/** Opens services on a fresh prefix and schema; cleanup removes both. */
export async function createTestEnv(extra: Record<string, string> = {}): Promise<TestEnv> {
  const id = uniqueId();
  const env = isolatedEnv(id, extra);
  const config = loadConfig(env);
  const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  const services = await openServices(config, logger, {
    metrics: createMetrics({ tenantLabel: true, defaultMetrics: false }),
  });
  return {
    id,
    env,
    config,
    services,
    async cleanup() {
      await services.close();
      await dropTestData(config);
    },
  };
}

/**
 * Deletes every Redis key under the test's prefix and drops its schema; each even when the other
 * fails (a Redis Cluster already stopped still leaves a schema to drop).
 */
export async function dropTestData(config: Config): Promise<void> {
  const results = await Promise.allSettled([dropKeys(config), dropSchemas(config)]);
  for (const result of results) if (result.status === 'rejected') throw result.reason;
}

async function dropKeys(config: Config): Promise<void> {
  const redis = createRedis(config, 'commands');
  try {
    // On a Redis Cluster, SCAN each primary (known once the client is ready), and UNLINK key by key
    // (one call may not span slots).
    await waitForRedis(redis);
    const nodes = redis instanceof Cluster ? redis.nodes('master') : [redis];
    for (const node of nodes) {
      let cursor = '0';
      do {
        const [next, keys] = (await node.scan(cursor, 'MATCH', `${config.redisPrefix}:*`, 'COUNT', 1_000)) as [
          string,
          string[],
        ];
        if (keys.length > 0) {
          if (redis instanceof Cluster) await Promise.all(keys.map((key) => redis.unlink(key)));
          else await redis.unlink(...keys);
        }
        cursor = next;
      } while (cursor !== '0');
    }
  } finally {
    redis.disconnect();
  }
}

async function dropSchemas(config: Config): Promise<void> {
  const client = new pg.Client({ connectionString: config.databaseUrl });
  await client.connect();
  try {
    // Also the shadow schemas of rebuilds the test left unswapped (`<schema>_rebuild_…`).
    const { rows } = await client.query<{ name: string }>(
      "SELECT nspname AS name FROM pg_namespace WHERE nspname = $1 OR starts_with(nspname, $1 || '_rebuild_')",
      [config.databaseSchema],
    );
    for (const { name } of rows) await client.query(`DROP SCHEMA IF EXISTS "${name}" CASCADE`);
  } finally {
    await client.end();
  }
}

/** Polls until `check` returns a value other than undefined/false, or fails after `timeoutMs`. */
export async function waitFor<T>(
  check: () => Promise<T | undefined | false> | T | undefined | false,
  options: { timeoutMs?: number; intervalMs?: number; message?: string } = {},
): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 20_000);
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      last = error;
    }
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 50));
  }
  throw new Error(
    `Timed out: ${options.message ?? 'condition not met'}${last ? ` (last error: ${String(last)})` : ''}`,
  );
}
