/**
 * Scale: the pipeline split over processes as a deployment runs it — one `ingest`, N `worker`, one
 * `projector`, each a real `streamdesk start --role …` child — for each N, on the bench's Redis and on
 * a three-primary Redis Cluster of the bench's own. The same ticket load (autocannon, closed model)
 * each time; tickets/s, received → written_back percentiles and CPU per party and per process.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Role } from '../src/runtime/roles.js';
import { groupNames } from '../src/streams/groups.js';
import { OwnRedisCluster } from '../test/support/redis-cluster.js';
import { measure, type E2eRun } from './e2e.js';
import type { Cleanups } from './support/cleanup.js';
import { cpuSnapshot } from './support/cpu.js';
import type { BenchEnv } from './support/env.js';
import { runLoad } from './support/load.js';
import { startRoleProcess, type RoleProcess } from './support/role-process.js';
import { median, round, until } from './support/stats.js';

export type ScaleSettings = {
  /** Worker process counts, run in this order on each Redis; 0: one process with role `all` instead (the baseline). */
  workers: number[];
  /** Also on a local three-primary Redis Cluster (redis-server must be on PATH). */
  cluster: boolean;
  /** Sent to a tenant of their own first, so every process has warmed up (JIT, pools) before the measured load. */
  warmupTickets: number;
  tickets: number;
  /** Each shape this many times, the shapes alternating; the report gives each shape's median. */
  repeats: number;
  connections: number;
  drainTimeoutMs: number;
};

export type ScaleRun = E2eRun & { redis: 'standalone' | 'cluster'; workers: number };

export type ScaleResult = { settings: ScaleSettings; runs: ScaleRun[]; medians: ScaleMedian[] };

type EnvFactory = (name: string, extra: Record<string, string>) => Promise<BenchEnv & { close(): Promise<void> }>;

/** The groups the three roles run between them: a tenant's stream has them all once every process saw it. */
const allGroups = Object.values(groupNames).length;
/** Runners look for new tenants every second (tenantRefreshMs) and block on the work bell for up to a second. */
const discoveryMs = 2_200;

/** `role all, one process` or `N worker(s)` (beside one ingest and one projector process). */
export const shapeName = (workers: number) =>
  workers === 0 ? 'role all, one process' : `${workers} worker${workers === 1 ? '' : 's'}`;

async function addTenant(env: BenchEnv, tenant: string): Promise<string> {
  const { services } = env;
  const { secret } = await services.registry.create({ id: tenant, writeback: { type: 'none' } });
  await until(
    async () =>
      ((await services.redis.xinfo('GROUPS', services.keys.events(tenant)).catch(() => [])) as unknown[]).length >=
      allGroups,
    { timeoutMs: 10_000, intervalMs: 20, what: `the processes to pick up tenant ${tenant}` },
  );
  // Groups exist once one process created them; give every worker time to see the tenant too.
  await sleep(discoveryMs);
  return secret;
}

async function startProcesses(
  env: BenchEnv,
  workers: number,
  cleanups: Cleanups,
  logFile: string,
): Promise<RoleProcess[]> {
  const specs: { label: string; role: Role }[] =
    workers === 0
      ? [{ label: 'all', role: 'all' }]
      : [
          { label: 'ingest', role: 'ingest' },
          { label: 'projector', role: 'projector' },
          ...Array.from({ length: workers }, (_, index) => ({ label: `worker-${index + 1}`, role: 'worker' as const })),
        ];
  const started = await Promise.allSettled(
    specs.map(({ label, role }) => startRoleProcess(label, role, env.vars, { logFile, cleanups })),
  );
  const running = started.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
  const failed = started.find((result) => result.status === 'rejected');
  if (failed) {
    await Promise.all(running.map((process) => process.stop()));
    throw failed.reason;
  }
  return running;
}

async function runOnce(
  openEnv: EnvFactory,
  settings: ScaleSettings,
  cleanups: Cleanups,
  redis: ScaleRun['redis'],
  workers: number,
  options: { extra: Record<string, string>; logFile: string; repeat: number },
): Promise<ScaleRun> {
  const env = await openEnv(`scale${redis === 'cluster' ? 'c' : 's'}${workers}r${options.repeat}`, options.extra);
  try {
    const processes = await startProcesses(env, workers, cleanups, options.logFile);
    try {
      const ingest = processes.find((process) => process.role === 'ingest' || process.role === 'all')!;
      const url = `http://127.0.0.1:${ingest.port}`;
      const labels = new Map(processes.map((process) => [process.pid, process.label]));
      if (settings.warmupTickets > 0) {
        const warm = 'scale-warm';
        const secret = await addTenant(env, warm);
        await measure(
          env,
          'warm-up',
          warm,
          (onReady) =>
            runLoad(
              {
                mode: 'autocannon',
                url,
                tenant: warm,
                secret,
                idPrefix: 'W',
                connections: 16,
                amount: settings.warmupTickets,
              },
              cleanups,
              onReady,
            ),
          settings,
        );
      }
      const tenant = 'scale';
      const secret = await addTenant(env, tenant);
      const run = await measure(
        env,
        `${redis}, ${shapeName(workers)}`,
        tenant,
        (onReady) =>
          runLoad(
            {
              mode: 'autocannon',
              url,
              tenant,
              secret,
              idPrefix: 'T',
              connections: settings.connections,
              amount: settings.tickets,
            },
            cleanups,
            onReady,
          ),
        settings,
        { cpuSnapshot: () => cpuSnapshot(labels) },
      );
      return { ...run, redis, workers };
    } finally {
      await Promise.all(processes.map((process) => process.stop()));
    }
  } finally {
    await env.close();
  }
}

/** The median of each shape's repeats. */
export type ScaleMedian = {
  redis: ScaleRun['redis'];
  workers: number;
  repeats: number;
  ticketsPerSecond: number;
  pipelineP50Ms: number;
  pipelineP99Ms: number;
  /** Cores per process label (ingest, projector, worker-n) and in all streamdesk processes. */
  cores: Record<string, number>;
};

function mediansOf(runs: readonly ScaleRun[]): ScaleMedian[] {
  const shapes = new Map<string, ScaleRun[]>();
  for (const run of runs) {
    const key = `${run.redis}/${run.workers}`;
    shapes.set(key, [...(shapes.get(key) ?? []), run]);
  }
  return [...shapes.values()].map((same) => {
    const labels = [...new Set(same.flatMap((run) => Object.keys(run.cpu?.byProcess ?? {})))];
    return {
      redis: same[0]!.redis,
      workers: same[0]!.workers,
      repeats: same.length,
      ticketsPerSecond: round(median(same.map((run) => run.ticketsPerSecond)), 0),
      pipelineP50Ms: round(median(same.map((run) => run.pipelineMs.p50))),
      pipelineP99Ms: round(median(same.map((run) => run.pipelineMs.p99))),
      cores: Object.fromEntries([
        ['streamdesk', round(median(same.map((run) => run.cpu?.streamdesk ?? 0)), 2)],
        ...labels.map((label) => [label, round(median(same.map((run) => run.cpu?.byProcess?.[label] ?? 0)), 2)]),
      ]),
    };
  });
}

/**
 * Every worker count on the bench's Redis and (settings.cluster) on a Redis Cluster started for the
 * phase, alternating within each repeat, so that a machine busier in one part of the phase does not
 * decide a comparison on its own.
 */
export async function runScale(
  openEnv: EnvFactory,
  settings: ScaleSettings,
  cleanups: Cleanups,
  progress: (line: string) => void,
  logFile: string,
): Promise<ScaleResult> {
  const runs: ScaleRun[] = [];
  const report = (run: ScaleRun) => {
    const perProcess = Object.entries(run.cpu?.byProcess ?? {})
      .map(([label, cores]) => `${label} ${cores}`)
      .join(', ');
    progress(
      `scale ${run.label}: ${run.ticketsPerSecond} tickets/s, pipeline p50 ${run.pipelineMs.p50} ms p99 ${run.pipelineMs.p99} ms, drain ${run.drainSeconds} s; cores ${perProcess}`,
    );
    runs.push(run);
  };
  const cluster = settings.cluster ? new OwnRedisCluster() : undefined;
  const forget = cluster ? cleanups.push('Redis Cluster of the scale phase', () => cluster.stop()) : () => undefined;
  try {
    if (cluster) {
      await cluster.start();
      progress(`scale: Redis Cluster on ${cluster.nodes}`);
    }
    for (let repeat = 0; repeat < settings.repeats; repeat++) {
      for (const workers of settings.workers) {
        report(await runOnce(openEnv, settings, cleanups, 'standalone', workers, { extra: {}, logFile, repeat }));
        if (cluster)
          report(
            await runOnce(openEnv, settings, cleanups, 'cluster', workers, {
              extra: { REDIS_CLUSTER_NODES: cluster.nodes },
              logFile,
              repeat,
            }),
          );
      }
    }
  } finally {
    forget();
    await cluster?.stop();
  }
  return { settings, runs, medians: mediansOf(runs) };
}
