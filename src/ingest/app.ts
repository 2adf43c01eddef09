import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Config } from '../config/config.js';
import { OverviewSource } from '../console/overview.js';
import { consoleRoutes } from '../console/routes.js';
import { ConsoleSessions } from '../console/session.js';
import { StreamdeskError } from '../errors.js';
import type { Db } from '../projections/db.js';
import type { RedisKeys } from '../streams/keys.js';
import type { RedisClient } from '../streams/redis.js';
import type { TenantRegistry } from '../tenants/registry.js';
import type { Metrics } from '../telemetry/metrics.js';
import { adminRoutes } from './admin.js';
import { webhookRoutes } from './webhook.js';

export type AppDeps = {
  logger: Logger;
  redis: RedisClient;
  keys: RedisKeys;
  db: Db;
  metrics: Metrics;
  /** Absent: the role serves only health, readiness and metrics. */
  registry?: TenantRegistry;
};

function toHttpError(error: FastifyError | StreamdeskError): StreamdeskError {
  if (error instanceof StreamdeskError) return error;
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new StreamdeskError('PAYLOAD_TOO_LARGE', 'The request body is larger than 256 KiB');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new StreamdeskError('UNSUPPORTED_MEDIA_TYPE', 'The request body must be application/json');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new StreamdeskError('INVALID_JSON', 'The request body is not valid JSON');
  }
  if (error.statusCode === 404) return new StreamdeskError('NOT_FOUND');
  if (error.statusCode === 415) return new StreamdeskError('UNSUPPORTED_MEDIA_TYPE', 'The request body must be application/json');
  if (error.statusCode === 413) return new StreamdeskError('PAYLOAD_TOO_LARGE', 'The request body is larger than 256 KiB');
  if (error.statusCode && error.statusCode >= 400 && error.statusCode < 500) return new StreamdeskError('BAD_REQUEST', error.message);
  return new StreamdeskError('INTERNAL');
}

/** Builds the HTTP app (not listening): webhooks and admin for the ingest role, health and metrics for every role. */
export async function buildApp(config: Config, deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    bodyLimit: 256 * 1024,
    // One log line per request would dominate the webhook's cost; requests are counted in metrics instead.
    logController: new LogController({ disableRequestLogging: true }),
    trustProxy: true,
  });

  app.setErrorHandler<FastifyError | StreamdeskError>((error, request, reply) => {
    const failure = toHttpError(error);
    if (failure.status >= 500 && failure.code !== 'REDIS_UNAVAILABLE' && failure.code !== 'POSTGRES_UNAVAILABLE') request.log.error({ err: error }, 'request failed');
    if ((failure.status === 503 || failure.status === 429) && !reply.hasHeader('Retry-After')) reply.header('Retry-After', '1');
    void reply.status(failure.status).send({ error: { code: failure.code, message: failure.message, ...(failure.details ? { details: failure.details } : {}) } });
  });
  app.setNotFoundHandler((request, reply) => {
    void reply.status(404).send({ error: { code: 'NOT_FOUND', message: `No route for ${request.method} ${request.url.split('?')[0]}` } });
  });
  app.addHook('onResponse', async (request, reply) => {
    deps.metrics.httpRequest(request.routeOptions.url ?? 'unknown', request.method, reply.statusCode, reply.elapsedTime);
  });

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const [redis, postgres] = await Promise.all([
      deps.redis.ping().then(() => true, () => false),
      deps.db.query('SELECT 1').then(() => true, () => false),
    ]);
    return reply.status(redis && postgres ? 200 : 503).send({ status: redis && postgres ? 'ready' : 'unavailable', redis, postgres });
  });
  app.get('/metrics', async (_request, reply) => {
    void reply.header('Content-Type', deps.metrics.contentType);
    return deps.metrics.render();
  });

  if (deps.registry) {
    const registry = deps.registry;
    await app.register(async (scope) =>
      webhookRoutes(scope, { config, redis: deps.redis, keys: deps.keys, registry, onAccepted: (tenant, duplicate) => deps.metrics.webhookAccepted(tenant, duplicate) }),
    );
    if (config.adminToken) {
      const adminToken = config.adminToken;
      const sessions = new ConsoleSessions(adminToken);
      const overview = new OverviewSource({ redis: deps.redis, keys: deps.keys, registry, db: deps.db, claimIdleMs: config.retry.claimIdleMs });
      await app.register(async (scope) => adminRoutes(scope, { adminToken, redis: deps.redis, keys: deps.keys, registry, db: deps.db, console: { sessions, overview, jaegerUiUrl: config.jaegerUiUrl } }));
      await app.register(async (scope) => consoleRoutes(scope, { sessions, logger: deps.logger }));
    }
  }
  return app;
}
