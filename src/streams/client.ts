import type { Cluster, Redis } from 'ioredis';

/** A connection to Redis, single node or Cluster: the engine works on either. */
export type RedisClient = Redis | Cluster;
