import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { loadConfig } from '../src/config/config.js';
import { openDatabase } from '../src/projections/db.js';
import { openServices, type Services } from '../src/runtime/services.js';
import { redisKeys } from '../src/streams/keys.js';
import { createRedis } from '../src/streams/redis.js';
import { createMetrics } from '../src/telemetry/metrics.js';
import { freePort, OwnRedisServer } from '../test/support/redis-server.js';
import type { Cleanups } from '../bench/support/cleanup.js';
import { round } from '../bench/support/stats.js';
import { Deployment } from './deployment.js';
import { runSteadyLoad, type LoadResult } from './load.js';
import { OwnPostgres } from './postgres.js';
import type { Scenario } from './scenarios.js';
import { measure, waitDrained, type Figures, type Store } from './verify.js';

export type ChaosSettings = {
  rate: number;
  durationSeconds: number;
  tenants: number;
  workers: number;
  projectors: number;
  claimIdleMs: number;
  drainTimeoutMs: number;
  quick: boolean;
};

export type ScenarioResult = {
  name: string;
  what: string;
  env: Record<string, string>;
  load: Omit<LoadResult, 'accepted'> & { accepted: number };
  faults: { atMs: number; what: string }[];
  drained: boolean;
  /** From the last webhook answered until every group had handled and acknowledged everything. */
  drainSeconds: number | null;
  figures: Figures | null;
  error?: string;
};

async function openQuietServices(env: Record<string, string>): Promise<Services> {
  return openServices(loadConfig(env), pino({ level: 'silent' }), {
    metrics: createMetrics({ tenantLabel: false, defaultMetrics: false }),
  });
}

/**
 * One scenario from scratch: a redis-server and a Postgres cluster of its own, the roles as child
 * processes, the steady load with the fault beside it, the drain, the figures; then everything is
 * stopped and removed.
 */
export async function runScenario(
  scenario: Scenario,
  settings: ChaosSettings,
  cleanups: Cleanups,
  logRoot: string,
  signal: AbortSignal,
): Promise<ScenarioResult> {
  const logDir = join(logRoot, scenario.name);
  mkdirSync(logDir, { recursive: true });
  const [redisPort, postgresPort, ingestPort] = [await freePort(), await freePort(), await freePort()];
  const redis = new OwnRedisServer(redisPort);
  const forgetRedis = cleanups.push(`remove redis-server ${redisPort}`, () => redis.stopAndRemove());
  const postgres = new OwnPostgres(postgresPort);
  const forgetPostgres = cleanups.push(`remove postgres ${postgresPort}`, () => postgres.remove());
  const env: Record<string, string> = {
    REDIS_URL: redis.url,
    REDIS_PREFIX: 'chaos',
    DATABASE_URL: postgres.url,
    LOG_LEVEL: 'info',
    HOST: '127.0.0.1',
    CLAIM_IDLE_MS: String(settings.claimIdleMs),
    ...scenario.env?.({ claimIdleMs: settings.claimIdleMs }),
  };
  const deployment = new Deployment(env, logDir);
  const forgetDeployment = cleanups.push(`kill ${scenario.name} roles`, async () => deployment.killAll());
  const faults: ScenarioResult['faults'] = [];
  const result: ScenarioResult = {
    name: scenario.name,
    what: scenario.what,
    env: { CLAIM_IDLE_MS: env.CLAIM_IDLE_MS! },
    load: emptyLoad(),
    faults,
    drained: false,
    drainSeconds: null,
    figures: null,
  };
  let store: Store | undefined;
  try {
    await Promise.all([redis.start(), postgres.init().then(() => postgres.start())]);
    const tenants = Array.from({ length: settings.tenants }, (_, i) => `chaos-${i + 1}`);
    const setup = await openQuietServices(env);
    const secrets = new Map<string, string>();
    try {
      for (const tenant of tenants)
        secrets.set(tenant, (await setup.registry.create({ id: tenant, writeback: { type: 'none' } })).secret);
    } finally {
      await setup.close();
    }
    // Opened before the faults, so the drain is timed from the last answer without a connect in between.
    const config = loadConfig(env);
    store = {
      redis: createRedis(config, 'commands'),
      keys: redisKeys(config.redisPrefix),
      db: await openDatabase(config, { max: 2 }),
      tenants,
    };
    await Promise.all([
      deployment.start('ingest', ingestPort),
      ...Array.from({ length: settings.workers }, () => deployment.start('worker')),
      ...Array.from({ length: settings.projectors }, () => deployment.start('projector')),
    ]);
    // Runners discover tenants every second and create their groups: let them, before the load.
    await sleep(1_500);

    const loadMs = settings.durationSeconds * 1_000;
    const startedAt = Date.now();
    const faultAbort = new AbortController();
    const stopLoad = () => faultAbort.abort();
    signal.addEventListener('abort', stopLoad);
    const loading = runSteadyLoad({
      baseUrl: () => `http://127.0.0.1:${ingestPort}`,
      tenants: tenants.map((id) => ({ id, secret: secrets.get(id)! })),
      rate: settings.rate,
      durationSeconds: settings.durationSeconds,
      idPrefix: 'T',
      requestTimeoutMs: 5_000,
      giveUpAfterMs: 90_000,
      signal: faultAbort.signal,
    });
    const faulting = scenario.fault({
      deployment,
      redis,
      postgres,
      ingestPort,
      loadMs,
      quick: settings.quick,
      claimIdleMs: Number(env.CLAIM_IDLE_MS),
      at: (ms) => sleep(Math.max(0, startedAt + ms - Date.now()), undefined, { signal }),
      note: (what) => faults.push({ atMs: Date.now() - startedAt, what }),
    });
    const [load, fault] = await Promise.allSettled([
      loading,
      faulting.catch((error: unknown) => {
        stopLoad();
        throw error;
      }),
    ]);
    signal.removeEventListener('abort', stopLoad);
    if (load.status === 'rejected') throw load.reason;
    result.load = { ...load.value, accepted: load.value.accepted.length };
    if (fault.status === 'rejected') throw fault.reason;
    if (signal.aborted) throw new Error('interrupted');

    const drainedAt = await waitDrained(store, settings.drainTimeoutMs);
    result.drained = drainedAt !== undefined;
    if (drainedAt !== undefined)
      result.drainSeconds = round(Math.max(0, drainedAt - load.value.lastAnsweredAt) / 1_000, 1);
    // Stopped before the rows are read: the figures describe a still system.
    await deployment.stopAll();
    result.figures = await measure(store, load.value.accepted, env);
  } catch (error) {
    result.error = error instanceof Error ? error.message : String(error);
  } finally {
    store?.redis.disconnect();
    await store?.db.end().catch(() => undefined);
    await deployment.stopAll(3_000);
    forgetDeployment();
    await postgres.remove();
    forgetPostgres();
    await redis.stopAndRemove();
    forgetRedis();
  }
  return result;
}

function emptyLoad(): ScenarioResult['load'] {
  return {
    webhooks: 0,
    accepted: 0,
    duplicates: 0,
    attempts: 0,
    retried: 0,
    gaveUp: 0,
    failures: {},
    startedAt: 0,
    lastAnsweredAt: 0,
  };
}

/** The scenario's one line. */
export function formatLine(result: ScenarioResult): string {
  const name = result.name.padEnd(17);
  if (!result.figures) return `${name} ERROR ${result.error ?? 'no figures'} (202s=${result.load.accepted})`;
  const f = result.figures;
  const drain = result.drained ? `${result.drainSeconds}s` : '>timeout';
  return (
    `${name} 202s=${result.load.accepted} rows=${f.finalRows} lost=${f.lost} doubled=${f.doubled} incomplete=${f.incomplete} pending=${f.pending} dlq=${f.dlq} drain=${drain}` +
    ` | unfinished=${f.unfinished} retries=${result.load.retried} gave-up=${result.load.gaveUp}${result.error ? ` error=${result.error}` : ''}`
  );
}
