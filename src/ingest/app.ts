import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
} from 'fastify';
import type { Logger } from 'pino';
import type { Config } from '../config/config.js';
import { OverviewSource } from '../console/overview.js';
import { consoleRoutes } from '../console/routes.js';
import { ConsoleSessions } from '../console/session.js';
import { StreamdeskError } from '../errors.js';
import { assertStorable } from '../storable.js';
import type { Db } from '../projections/db.js';
import type { RedisKeys } from '../streams/keys.js';
import type { RedisClient } from '../streams/redis.js';
import type { TenantRegistry } from '../tenants/registry.js';
import type { Metrics } from '../telemetry/metrics.js';
import { adminRoutes } from './admin.js';
import { answerClientError, errorBody, maxParamLength, toHttpError } from './http-errors.js';
import { serviceDeskPlusRoutes } from './servicedesk-plus.js';
import { sqlFiles } from '../sql-files.js';
import { webhookRoutes } from './webhook.js';

const ingestSql = sqlFiles(new URL('./sql/', import.meta.url), { ready: 'ready' });

export type AppDeps = {
  logger: Logger;
  redis: RedisClient;
  keys: RedisKeys;
  db: Db;
  metrics: Metrics;
  /** Absent: the role serves only health, readiness and metrics. */
  registry?: TenantRegistry;
};

/** Fastify with the HTTP limits: slow or idle clients cannot hold connections, framework errors use the catalogue. */
function createFastify(config: Config, logger: Logger): FastifyInstance {
  const { http } = config;
  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    bodyLimit: 256 * 1024,
    // Slow or idle clients cannot hold connections: whole request, headers, silence and keep-alive are bounded.
    requestTimeout: http.requestTimeoutMs,
    connectionTimeout: http.idleTimeoutMs,
    keepAliveTimeout: http.keepAliveTimeoutMs,
    http: {
      requestTimeout: http.requestTimeoutMs,
      headersTimeout: http.headersTimeoutMs,
      // Node checks the request and headers timeouts on this interval (default 30 s, which would double them).
      connectionsCheckingInterval: Math.max(50, Math.min(1_000, Math.floor(http.headersTimeoutMs / 2))),
    },
    routerOptions: { maxParamLength },
    clientErrorHandler: answerClientError,
    frameworkErrors: (error, _request, reply: FastifyReply) => {
      const failure = toHttpError(error);
      void reply.status(failure.status).send(errorBody(failure));
    },
    // One log line per request would dominate the webhook's cost; requests are counted in metrics instead.
    logController: new LogController({ disableRequestLogging: true }),
    trustProxy: true,
  });
  app.server.maxConnections = http.maxConnections;
  return app;
}

/** Every route's errors as catalogue bodies, its input checked storable, its response counted. */
function guardRequests(app: FastifyInstance, metrics: Metrics): void {
  app.setErrorHandler<FastifyError | StreamdeskError>((error, request, reply) => {
    const failure = toHttpError(error);
    if (failure.status >= 500 && failure.code !== 'REDIS_UNAVAILABLE' && failure.code !== 'POSTGRES_UNAVAILABLE')
      request.log.error({ err: error }, 'request failed');
    if ((failure.status === 503 || failure.status === 429) && !reply.hasHeader('Retry-After'))
      reply.header('Retry-After', '1');
    void reply.status(failure.status).send(errorBody(failure));
  });
  // Only JSON bodies are taken (routes that need another type register their own parser).
  app.removeContentTypeParser('text/plain');
  // What a handler receives can be stored: Postgres refuses NUL and lone surrogates in any field.
  // Callback hooks, not async ones: no promise per request for work that never waits.
  app.addHook('preHandler', (request, _reply, done) => {
    try {
      assertStorable(request.params, 'params');
      assertStorable(request.query, 'query');
      assertStorable(request.body, 'body');
    } catch (error) {
      done(error as StreamdeskError);
      return;
    }
    done();
  });
  app.setNotFoundHandler((request, reply) => {
    void reply
      .status(404)
      .send(errorBody(new StreamdeskError('NOT_FOUND', `No route for ${request.method} ${request.url.split('?')[0]}`)));
  });
  app.addHook('onResponse', (request, reply, done) => {
    metrics.httpRequest(request.routeOptions.url ?? 'unknown', request.method, reply.statusCode, reply.elapsedTime);
    done();
  });
}

/** Health, readiness (Redis and Postgres answer) and metrics: served by every role. */
function operationsRoutes(app: FastifyInstance, deps: AppDeps): void {
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const [redis, postgres] = await Promise.all([
      deps.redis.ping().then(
        () => true,
        () => false,
      ),
      deps.db.query(ingestSql.ready).then(
        () => true,
        () => false,
      ),
    ]);
    return reply
      .status(redis && postgres ? 200 : 503)
      .send({ status: redis && postgres ? 'ready' : 'unavailable', redis, postgres });
  });
  app.get('/metrics', async (_request, reply) => {
    void reply.header('Content-Type', deps.metrics.contentType);
    return deps.metrics.render();
  });
}

/** The admin API and the console, each in its own scope; only with an admin token configured. */
async function adminAndConsole(
  app: FastifyInstance,
  config: Config,
  deps: AppDeps,
  registry: TenantRegistry,
  adminToken: string,
): Promise<void> {
  const sessions = new ConsoleSessions(adminToken);
  const overview = new OverviewSource({
    redis: deps.redis,
    keys: deps.keys,
    registry,
    db: deps.db,
    claimIdleMs: config.retry.claimIdleMs,
  });
  await app.register(async (scope) =>
    adminRoutes(scope, {
      adminToken,
      redis: deps.redis,
      keys: deps.keys,
      registry,
      db: deps.db,
      targetPolicy: { allowPrivate: config.writebackAllowPrivate },
      console: { sessions, overview, jaegerUiUrl: config.jaegerUiUrl },
    }),
  );
  await app.register(async (scope) => consoleRoutes(scope, { sessions, logger: deps.logger }));
}

/** Builds the HTTP app (not listening): webhooks and admin for the ingest role, health and metrics for every role. */
export async function buildApp(config: Config, deps: AppDeps): Promise<FastifyInstance> {
  const app = createFastify(config, deps.logger);
  guardRequests(app, deps.metrics);
  operationsRoutes(app, deps);
  if (deps.registry) {
    const registry = deps.registry;
    const ingestDeps = {
      config,
      redis: deps.redis,
      keys: deps.keys,
      registry,
      onAccepted: (tenant: string, duplicate: boolean) => deps.metrics.webhookAccepted(tenant, duplicate),
    };
    await app.register(async (scope) => webhookRoutes(scope, ingestDeps));
    await app.register(async (scope) => serviceDeskPlusRoutes(scope, ingestDeps));
    if (config.adminToken) await adminAndConsole(app, config, deps, registry, config.adminToken);
  }
  return app;
}
