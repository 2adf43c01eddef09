/**
 * Phase (b): signed webhooks against the real HTTP server of the ingest role (no consumers), from
 * a load generator in a child process: autocannon at saturation, then steady (paced) rates, then
 * autocannon's own overallRate for comparison.
 */
import { startRole } from '../src/runtime/roles.js';
import type { Cleanups } from './support/cleanup.js';
import type { BenchEnv } from './support/env.js';
import { runLoad, type LoadJob, type LoadSummary } from './support/load.js';
import { coresUsed, cpuSnapshot, type CpuParties, type CpuSnapshot } from './support/cpu.js';
import { round } from './support/stats.js';

type Rate = { overallRate: number; durationSeconds: number; connections: number };

export type IngestSettings = {
  warmupSeconds: number;
  saturation: { durationSeconds: number; connections: number };
  /** Open model, steady arrivals. */
  pacedRates: Rate[];
  /** autocannon overallRate: a per-second budget, so each second starts with a burst. */
  autocannonRates: Rate[];
};

export type IngestRun = {
  label: string;
  mode: LoadJob['mode'];
  /** Requested rate; absent at saturation. */
  overallRate?: number;
  connections: number;
  requestsPerSecond: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
  non2xx: number;
  errors: number;
  statusCodes: Record<string, number>;
  completed: number;
  durationSeconds: number;
  sendLagMsP99?: number;
  /** Cores used per party during the run. */
  cpu: CpuParties | undefined;
};

export type IngestResult = { settings: IngestSettings; runs: IngestRun[] };

function toRun(
  label: string,
  job: Pick<LoadJob, 'mode' | 'connections' | 'overallRate'>,
  summary: LoadSummary,
  cpu: CpuParties | undefined,
): IngestRun {
  return {
    label,
    mode: job.mode,
    ...(job.overallRate !== undefined ? { overallRate: job.overallRate } : {}),
    connections: job.connections,
    requestsPerSecond: round(summary.completed / summary.durationSeconds, 0),
    p50Ms: summary.latencyMs.p50,
    p90Ms: summary.latencyMs.p90,
    p99Ms: summary.latencyMs.p99,
    maxMs: summary.latencyMs.max,
    non2xx: summary.non2xx,
    errors: summary.errors,
    statusCodes: summary.statusCodes,
    completed: summary.completed,
    durationSeconds: round(summary.durationSeconds, 2),
    ...(summary.sendLagMsP99 !== undefined ? { sendLagMsP99: summary.sendLagMsP99 } : {}),
    cpu,
  };
}

export async function runIngest(
  env: BenchEnv,
  settings: IngestSettings,
  cleanups: Cleanups,
  progress: (line: string) => void,
): Promise<IngestResult> {
  const { services } = env;
  const role = await startRole('ingest', services, { listen: true });
  const forget = cleanups.push('stop ingest role', () => role.stop());
  try {
    const address = role.app.server.address();
    if (!address || typeof address !== 'object') throw new Error('The ingest role is not listening');
    const url = `http://127.0.0.1:${address.port}`;
    const runs: IngestRun[] = [];
    // A tenant per run: each run's stream starts empty.
    const load = async (tenant: string, job: Omit<LoadJob, 'url' | 'tenant' | 'secret' | 'idPrefix'>) => {
      const secret = (await services.registry.create({ id: tenant })).secret;
      let cpu: CpuSnapshot;
      const summary = await runLoad(
        { url, tenant, secret, idPrefix: tenant, ...job },
        cleanups,
        () => (cpu = cpuSnapshot()),
      );
      return { summary, cpu: coresUsed(cpu, cpuSnapshot()) };
    };
    const record = (
      label: string,
      job: Pick<LoadJob, 'mode' | 'connections' | 'overallRate'>,
      { summary, cpu }: { summary: LoadSummary; cpu: CpuParties | undefined },
    ) => {
      const run = toRun(label, job, summary, cpu);
      runs.push(run);
      progress(
        `ingest ${label}: ${run.requestsPerSecond} req/s, p50 ${run.p50Ms} ms, p99 ${run.p99Ms} ms, non-2xx ${run.non2xx + run.errors}`,
      );
    };

    await load('ingest-warmup', {
      mode: 'autocannon',
      connections: settings.saturation.connections,
      durationSeconds: settings.warmupSeconds,
    });
    const saturation = { mode: 'autocannon' as const, ...settings.saturation };
    record('saturation (autocannon)', saturation, await load('ingest-saturation', saturation));
    for (const rate of settings.pacedRates) {
      const job = { mode: 'paced' as const, ...rate };
      record(`${rate.overallRate}/s paced`, job, await load(`ingest-paced-${rate.overallRate}`, job));
    }
    for (const rate of settings.autocannonRates) {
      const job = { mode: 'autocannon' as const, ...rate };
      record(`${rate.overallRate}/s autocannon overallRate`, job, await load(`ingest-ac-${rate.overallRate}`, job));
    }
    return { settings, runs };
  } finally {
    forget();
    await role.stop();
  }
}
