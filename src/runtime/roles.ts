import type { FastifyInstance } from 'fastify';
import { createStages } from '../consumers/index.js';
import { stageProcessor } from '../consumers/stage.js';
import { buildApp } from '../ingest/app.js';
import { archiveProjection } from '../projections/archive.js';
import { projectionProcessor, type AppliedBatch } from '../projections/projection.js';
import { ticketsProjection } from '../projections/tickets.js';
import type { GroupProcessor } from '../streams/processor.js';
import { trimTenantStream } from '../streams/retention.js';
import { StreamRunner } from '../streams/runner.js';
import { tenantStatusSource } from '../telemetry/metrics.js';
import { consumerTracing } from '../telemetry/tracing.js';
import type { Services } from './services.js';

export const roles = ['all', 'ingest', 'worker', 'projector'] as const;
export type Role = (typeof roles)[number];

export type RunningRole = { app: FastifyInstance; runners: StreamRunner[]; stop(): Promise<void> };

/** The consumer groups a role runs. */
export function processorsFor(role: Role, services: Services): GroupProcessor[] {
  const processors: GroupProcessor[] = [];
  const tracing = consumerTracing((tenant) => services.keys.events(tenant));
  if (role === 'all' || role === 'worker') {
    processors.push(
      ...createStages(services).map((stage) =>
        stageProcessor(stage, services.logger, (_stage, event, attempt, work) =>
          tracing.process(stage.name, event, attempt, work),
        ),
      ),
    );
  }
  if (role === 'all' || role === 'projector') {
    const onCommitted = ({ completedTickets }: AppliedBatch) =>
      completedTickets?.forEach(({ tenant, latencyMs }) => services.metrics.ticketCompleted(tenant, latencyMs));
    processors.push(
      projectionProcessor(ticketsProjection, services.db, { tracing, onCommitted }),
      projectionProcessor(archiveProjection, services.db, { tracing }),
    );
  }
  return processors;
}

/** Starts a role: its consumer groups and its HTTP server (webhooks and admin for ingest; health and metrics for all). */
export async function startRole(
  role: Role,
  services: Services,
  options: { listen?: boolean; runnerOverrides?: Partial<ConstructorParameters<typeof StreamRunner>[0]> } = {},
): Promise<RunningRole> {
  const { config, logger } = services;
  // Every role's /metrics shows every group's lag: the same cluster-wide numbers from each instance.
  services.metrics.collectGroupStatus(tenantStatusSource(services.redis, services.keys));
  const app = await buildApp(config, {
    logger,
    redis: role === 'all' || role === 'ingest' ? services.ingestRedis : services.redis,
    keys: services.keys,
    db: services.db,
    metrics: services.metrics,
    ...(role === 'all' || role === 'ingest' ? { registry: services.registry } : {}),
  });
  const runners = processorsFor(role, services).map(
    (processor) =>
      new StreamRunner({
        redis: services.redis,
        blockingRedis: services.blockingRedis(),
        keys: services.keys,
        processor,
        retry: config.retry,
        emittedTtlSeconds: config.idempotencyTtlSeconds,
        priorityShare: config.priorityLaneShare,
        logger,
        observer: services.metrics,
        ...options.runnerOverrides,
      }),
  );
  await Promise.all(runners.map((runner) => runner.start()));
  let port = config.port;
  if (options.listen ?? true) {
    await app.listen({ port: config.port, host: config.host });
    const address = app.server.address();
    if (address && typeof address === 'object') port = address.port;
  }
  logger.info({ role, groups: runners.map((runner) => runner.group), port }, 'streamdesk started');

  const trimming =
    role === 'all' || role === 'projector'
      ? setInterval(() => void trimStreams(services), config.retention.intervalMs).unref()
      : undefined;

  let stopping: Promise<void> | undefined;
  return {
    app,
    runners,
    stop() {
      stopping ??= (async () => {
        clearInterval(trimming);
        await app.close();
        await Promise.all(runners.map((runner) => runner.stop(config.shutdownTimeoutMs)));
      })();
      return stopping;
    },
  };
}

/** Applies the retention policy to every tenant's stream (the projector role runs it periodically). */
export async function trimStreams(services: Services): Promise<void> {
  const { config, logger, redis, keys, db, registry } = services;
  try {
    for (const tenant of await registry.list()) {
      const result = await trimTenantStream(redis, keys, db, tenant.id, config.retention);
      if (result.trimmed > 0) logger.info(result, 'stream trimmed');
    }
  } catch (error) {
    logger.warn({ err: error }, 'stream trimming failed; will try again');
  }
}
