import { pino, type Logger } from 'pino';
import { loadConfig, type Config } from '../../src/config/config.js';
import { openServices, type Services } from '../../src/runtime/services.js';
import { createMetrics } from '../../src/telemetry/metrics.js';
import { dropTestData, isolatedEnv } from '../../test/support/env.js';
import type { Cleanups } from './cleanup.js';

/** Where the bench runs: its own database by default, so it never touches the test or dev data. */
export type BenchTarget = { redisUrl: string; databaseUrl: string; logLevel: string; logFile: string };

/** `vars`: the environment the config was read from, for streamdesk processes the bench starts on the same prefix and schema. */
export type BenchEnv = {
  name: string;
  vars: Record<string, string>;
  config: Config;
  services: Services;
  logger: Logger;
};

/**
 * Opens services on a prefix and schema of the phase's own (`bench-<run>-<phase>`), like a test
 * does; both are removed when the phase ends, or by the cleanup stack on failure or Ctrl-C.
 * Logs go through pino at `logLevel` into `logFile` (/dev/null by default: serialising them costs
 * what it costs in production, writing them costs nothing).
 */
export async function openBenchEnv(
  target: BenchTarget,
  runId: string,
  phase: string,
  cleanups: Cleanups,
  extra: Record<string, string> = {},
): Promise<BenchEnv & { close(): Promise<void> }> {
  const name = `${runId}-${phase}`;
  const vars = isolatedEnv(name, {
    REDIS_URL: target.redisUrl,
    REDIS_PREFIX: `bench-${name}`,
    DATABASE_URL: target.databaseUrl,
    DATABASE_SCHEMA: `bench_${name.replace(/-/g, '_')}`,
    LOG_LEVEL: target.logLevel,
    ...extra,
  });
  const config = loadConfig(vars);
  const logger = pino(
    { level: config.logLevel, base: { service: 'streamdesk', role: 'bench' } },
    pino.destination({ dest: target.logFile, sync: true, append: true }),
  );
  let dropped = false;
  // Marked done only once it worked, so that the cleanup stack tries again after a failure.
  const drop = async () => {
    if (dropped) return;
    await dropTestData(config);
    dropped = true;
  };
  // Registered before connecting: a failure half-way through opening still removes what was made.
  const removeDrop = cleanups.push(`drop ${name}`, drop);
  const services = await openServices(config, logger, {
    metrics: createMetrics({ tenantLabel: config.metricsTenantLabel, defaultMetrics: false }),
  });
  const removeClose = cleanups.push(`close ${name}`, () => services.close());
  return {
    name,
    vars,
    config,
    services,
    logger,
    async close() {
      removeClose();
      await services.close();
      await drop();
      removeDrop();
    },
  };
}
