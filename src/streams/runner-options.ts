import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { RedisKeys } from './keys.js';
import type { RunnerObserver } from './observer.js';
import type { GroupProcessor, RetryPolicy } from './processor.js';
import type { RedisClient } from './redis.js';

/** What a `StreamRunner` is given; the optional settings have defaults in its constructor. */
export type RunnerOptions = {
  /** Shared connection for commands. */
  redis: RedisClient;
  /** A connection of this runner's own: XREADGROUP BLOCK holds it. */
  blockingRedis: RedisClient;
  keys: RedisKeys;
  processor: GroupProcessor;
  /** Defaults; the processor's own `retry` overrides them. */
  retry: RetryPolicy;
  /** How long follow-on event ids are remembered for de-duplication. */
  emittedTtlSeconds: number;
  logger: Logger;
  observer?: RunnerObserver;
  consumerName?: string;
  blockMs?: number;
  batchSize?: number;
  tenantRefreshMs?: number;
  /** Consumers idle this long with nothing pending are removed from the group. */
  deadConsumerIdleMs?: number;
  /** Share of each read a tenant's priority lane may take (see lanes.ts `laneCounts`). */
  priorityShare?: number;
  /** How often every tenant's streams are read, marked or not (see work.ts). */
  fullReadMs?: number;
};

/** A consumer name unique to this process: host, pid and a random suffix. */
export function consumerName(): string {
  return `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
}
