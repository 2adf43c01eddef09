import { readFileSync } from 'node:fs';
import { Cluster, Redis, type Result } from 'ioredis';
import type { Config } from '../config/config.js';

export type RedisClient = Redis | Cluster;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    sdIngest(...args: (string | number)[]): Result<[0 | 2, string] | [1, string, string], Context>;
    sdSettle(...args: (string | number)[]): Result<number, Context>;
    sdRedrive(...args: (string | number)[]): Result<string | null, Context>;
    sdTouch(...args: (string | number)[]): Result<string[], Context>;
    sdReleaseConsumer(...args: (string | number)[]): Result<number, Context>;
    sdCountAfter(...args: (string | number)[]): Result<number[], Context>;
    sdTrim(...args: (string | number)[]): Result<number, Context>;
    sdLlmGate(...args: (string | number)[]): Result<[number, number | string, string | number], Context>;
    sdMarkWork(...args: (string | number)[]): Result<number, Context>;
    sdWorkSince(...args: (string | number)[]): Result<[string, number, string[]], Context>;
  }
}

const lua = (name: string) => readFileSync(new URL(`./lua/${name}.lua`, import.meta.url), 'utf8');
// Scripts that append to a tenant's lanes share its id sequence through this prelude.
const appending = (name: string) => `${lua('lane-id')}\n${lua(name)}`;
const scripts = {
  // Two or three keys: the key count is the first argument (see streams/ingest.ts).
  sdIngest: { lua: appending('ingest') },
  sdSettle: { lua: appending('settle') },
  sdRedrive: { numberOfKeys: 4, lua: appending('redrive') },
  sdTouch: { numberOfKeys: 1, lua: lua('touch') },
  sdReleaseConsumer: { numberOfKeys: 1, lua: lua('release-consumer') },
  sdCountAfter: { numberOfKeys: 1, lua: lua('count-after') },
  sdTrim: { numberOfKeys: 1, lua: lua('trim') },
  sdLlmGate: { numberOfKeys: 2, lua: lua('llm-gate') },
  sdMarkWork: { numberOfKeys: 3, lua: lua('mark-work') },
  sdWorkSince: { numberOfKeys: 3, lua: lua('work-since') },
};

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
  for (const [name, definition] of Object.entries(scripts)) client.defineCommand(name, definition);
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
