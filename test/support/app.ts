import type { FastifyInstance } from 'fastify';
import type { Config } from '../../src/config/config.js';
import { buildApp } from '../../src/ingest/app.js';
import type { Services } from '../../src/runtime/services.js';

/** The HTTP app of role `ingest` on a test's services: webhooks, admin API, health and metrics. */
export function ingestApp(config: Config, services: Services): Promise<FastifyInstance> {
  return buildApp(config, {
    logger: services.logger,
    redis: services.ingestRedis,
    keys: services.keys,
    db: services.db,
    metrics: services.metrics,
    registry: services.registry,
  });
}
