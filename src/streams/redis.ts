import { Cluster, Redis } from 'ioredis';
import type { Config } from '../config/config.js';
import type { RedisClient } from './client.js';
import { defineScripts } from './scripts.js';

export type { RedisClient } from './client.js';

export type RedisPurpose = 'ingest' | 'commands' | 'blocking' | 'registry';

/**
 * Ingest fails fast when Redis is down (the webhook answers 503 and the helpdesk retries);
 * consumers wait for the connection to come back instead.
 */
export function createRedis(config: Config, purpose: RedisPurpose): RedisClient {
  const failFast = purpose === 'ingest';
  const options = {
    connectionName: `streamdesk-${purpose}`,
    maxRetriesPerRequest: failFast ? 0 : null,
    enableOfflineQueue: !failFast,
    retryStrategy: (attempt: number) => Math.min(50 * 2 ** attempt, 2_000),
    lazyConnect: false,
    // Concurrent webhooks' appends share one socket write per event-loop turn.
    enableAutoPipelining: failFast,
  };
  const client: RedisClient = config.redisClusterNodes
    ? new Cluster([...config.redisClusterNodes], { redisOptions: options, enableOfflineQueue: !failFast })
    : new Redis(config.redisUrl, options);
  defineScripts(client);
  // Connection errors surface through the commands that hit them; an unhandled 'error' event would crash the process.
  client.on('error', () => undefined);
  return client;
}

/** Resolves once the client is ready, or rejects after `timeoutMs`. */
export async function waitForRedis(client: RedisClient, timeoutMs = 5_000): Promise<void> {
  if (client.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      client.off('ready', onReady);
      reject(new Error(`Redis was not reachable within ${timeoutMs} ms`));
    }, timeoutMs);
    const onReady = () => {
      clearTimeout(timer);
      resolve();
    };
    client.once('ready', onReady);
  });
}
