/**
 * `npm run bench`: the stream engine against a raw ioredis ceiling, signed-webhook ingest, end to
 * end, and a projection rebuild, on the local Redis and Postgres, each phase on a key prefix and a
 * schema of its own that are removed afterwards (also on failure and on Ctrl-C).
 *
 *   npm run bench [-- --only engine,ingest,e2e,rebuild,tenants,memory,scale] [--repeat 3] [--quick] [--profile] [--log-level info] [--log-file /dev/null]
 *
 * --repeat N runs ingest, e2e and rebuild N times and reports, for each, the run with the median headline figure
 * (saturation rate, events/s) beside every run's figure; the engine phase takes its own medians (repeats).
 *
 * Prints a table and writes bench/results/<ISO timestamp>.json (with --profile also
 * <ISO timestamp>.cpuprofile, read it with bench/profile-summary.ts). See docs/performance.md.
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { runE2e, type E2eResult, type E2eSettings } from './e2e.js';
import { runEngine, type EngineSettings } from './engine.js';
import { runIngest, type IngestResult, type IngestSettings } from './ingest.js';
import { runRebuild, type RebuildResult, type RebuildSettings } from './rebuild.js';
import { runTenants, type TenantsSettings } from './tenants.js';
import { runMemory, type MemorySettings } from './memory.js';
import { runScale, type ScaleSettings } from './scale.js';
import { checkTargets, formatReport, writeReport, type BenchReport } from './report.js';
import { Cleanups } from './support/cleanup.js';
import { openBenchEnv, type BenchEnv, type BenchTarget } from './support/env.js';
import { describeMachine, gitCommit } from './support/machine.js';
import { startProfiling } from './support/profiler.js';

const phaseNames = ['engine', 'ingest', 'e2e', 'rebuild', 'tenants', 'memory', 'scale'] as const;
type PhaseName = (typeof phaseNames)[number];
/** Without --only: scale starts a dozen processes per shape and takes longer than all the others together. */
const defaultPhases = phaseNames.filter((name) => name !== 'scale');

type Settings = {
  engine: EngineSettings;
  ingest: IngestSettings;
  e2e: E2eSettings;
  rebuild: RebuildSettings;
  tenants: TenantsSettings;
  memory: MemorySettings;
  scale: ScaleSettings;
};

const fullSettings: Settings = {
  engine: {
    items: 20_000,
    repeats: 3,
    rawCount: 100,
    runnerBatchSize: 100,
    bullmqConcurrency: 100,
    blockMs: 1_000,
    timeoutMs: 120_000,
  },
  ingest: {
    warmupSeconds: 3,
    saturation: { durationSeconds: 10, connections: 64 },
    pacedRates: [
      { overallRate: 1_000, durationSeconds: 10, connections: 64 },
      { overallRate: 5_000, durationSeconds: 10, connections: 64 },
    ],
    autocannonRates: [{ overallRate: 5_000, durationSeconds: 10, connections: 64 }],
  },
  e2e: {
    warmupTickets: 300,
    saturation: { tickets: 5_000, connections: 64 },
    idleTenant: { tickets: 500, connections: 64 },
    rates: [
      { overallRate: 100, durationSeconds: 5, connections: 16 },
      // The latency target's rate; 10 s so that the p99 stands on 5,000 tickets.
      { overallRate: 500, durationSeconds: 10, connections: 64 },
    ],
    drainTimeoutMs: 180_000,
  },
  rebuild: { batchSize: 20_000, trimToLength: 1 },
  tenants: { busyTickets: 5_000, beside: [5, 1_000], smallTenants: 5, smallIntervalMs: 100, timeoutMs: 300_000 },
  memory: { tickets: 5_000, timeoutMs: 120_000 },
  scale: {
    workers: [0, 1, 2, 4],
    cluster: true,
    warmupTickets: 300,
    tickets: 3_000,
    repeats: 2,
    connections: 64,
    drainTimeoutMs: 300_000,
  },
};

/** A smoke run of every phase in well under a minute: the figures mean little. */
const quickSettings: Settings = {
  engine: { ...fullSettings.engine, items: 2_000, repeats: 1 },
  ingest: {
    warmupSeconds: 1,
    saturation: { durationSeconds: 2, connections: 64 },
    pacedRates: fullSettings.ingest.pacedRates.map((rate) => ({ ...rate, durationSeconds: 2 })),
    autocannonRates: fullSettings.ingest.autocannonRates.map((rate) => ({ ...rate, durationSeconds: 2 })),
  },
  e2e: {
    ...fullSettings.e2e,
    warmupTickets: 100,
    saturation: { tickets: 500, connections: 64 },
    idleTenant: { tickets: 200, connections: 64 },
    rates: fullSettings.e2e.rates.map((rate) => ({ ...rate, durationSeconds: 2 })),
  },
  rebuild: fullSettings.rebuild,
  tenants: { ...fullSettings.tenants, busyTickets: 1_000 },
  memory: { ...fullSettings.memory, tickets: 1_000 },
  scale: { ...fullSettings.scale, workers: [0, 2], warmupTickets: 50, tickets: 300, repeats: 1 },
};

function parseOptions(): {
  phases: Set<PhaseName>;
  settings: Settings;
  logLevel: string;
  logFile: string;
  profile: boolean;
  repeat: number;
} {
  const { values } = parseArgs({
    options: {
      only: { type: 'string', multiple: true },
      quick: { type: 'boolean', default: false },
      'log-level': { type: 'string', default: 'info' },
      'log-file': { type: 'string', default: '/dev/null' },
      profile: { type: 'boolean', default: false },
      repeat: { type: 'string', default: '1' },
    },
    strict: true,
  });
  const requested = (values.only ?? [])
    .flatMap((value) => value.split(','))
    .map((value) => value.trim())
    .filter(Boolean);
  for (const name of requested) {
    if (!(phaseNames as readonly string[]).includes(name))
      throw new Error(`--only: unknown phase "${name}" (expected ${phaseNames.join(', ')})`);
  }
  const phases = new Set<PhaseName>(requested.length > 0 ? (requested as PhaseName[]) : defaultPhases);
  const repeat = Number(values.repeat);
  if (!Number.isInteger(repeat) || repeat < 1 || repeat > 9)
    throw new Error(`--repeat: expected a whole number from 1 to 9 (got "${values.repeat}")`);
  return {
    repeat,
    phases,
    settings: values.quick ? quickSettings : fullSettings,
    logLevel: values['log-level'],
    logFile: values['log-file'],
    profile: values.profile,
  };
}

type Repeated = { ingest: IngestResult[]; e2e: E2eResult[]; rebuild: RebuildResult[] };

const headline = {
  ingest: (result: IngestResult) => result.runs.find((run) => run.overallRate === undefined)?.requestsPerSecond ?? 0,
  e2e: (result: E2eResult) => result.runs.find((run) => run.label === 'saturation')?.ticketsPerSecond ?? 0,
  rebuild: (result: RebuildResult) => result.eventsPerSecond,
};

/** The run whose headline figure is the median (the lower middle one of an even count). */
function medianRun<T>(results: T[], figure: (result: T) => number): T | undefined {
  return [...results].sort((a, b) => figure(a) - figure(b))[Math.floor((results.length - 1) / 2)];
}

function medianRuns(repeated: Repeated): Partial<BenchReport['phases']> {
  const ingest = medianRun(repeated.ingest, headline.ingest);
  const e2e = medianRun(repeated.e2e, headline.e2e);
  const rebuild = medianRun(repeated.rebuild, headline.rebuild);
  return { ...(ingest ? { ingest } : {}), ...(e2e ? { e2e } : {}), ...(rebuild ? { rebuild } : {}) };
}

function headlines(repeated: Repeated): NonNullable<BenchReport['repeats']> {
  return {
    ingestRequestsPerSecond: repeated.ingest.map(headline.ingest),
    e2eTicketsPerSecond: repeated.e2e.map(headline.e2e),
    rebuildEventsPerSecond: repeated.rebuild.map(headline.rebuild),
  };
}

async function main(): Promise<void> {
  const { phases, settings, logLevel, logFile, profile, repeat } = parseOptions();
  const target: BenchTarget = {
    redisUrl: process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379',
    databaseUrl: process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/streamdesk_bench',
    logLevel,
    logFile,
  };
  const runId = randomBytes(3).toString('hex');
  const cleanups = new Cleanups();
  const progress = (line: string) => process.stderr.write(`[bench] ${line}\n`);
  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) return;
    interrupted = true;
    progress(`${signal}: stopping and removing the bench's keys and schemas…`);
    void cleanups.runAll(progress).finally(() => process.exit(130));
  };
  // Kept for every signal: Ctrl-C reaches this process from the terminal and again relayed by tsx
  // (and npm), and a second SIGINT without a listener would end it before the cleanup is done.
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const started = new Date();
  const machine = await describeMachine(target);
  const report: BenchReport = {
    startedAt: started.toISOString(),
    finishedAt: '',
    durationSeconds: 0,
    command: process.argv.slice(2),
    git: { commit: gitCommit(new URL('..', import.meta.url).pathname) },
    machine,
    logLevel,
    profiled: profile,
    loadAverage1mAtPhaseStart: {},
    phases: {},
    targets: [],
  };
  // Other work on the machine shows up here: a phase that started on a busy machine measured less.
  const phase = (name: string, what: string) => {
    report.loadAverage1mAtPhaseStart[name] = Math.round(os.loadavg()[0]! * 100) / 100;
    progress(`phase ${name}: ${what}`);
  };
  const profiler = profile ? await startProfiling() : undefined;
  const resultsDirectory = new URL('./results/', import.meta.url);
  const stamp = report.startedAt.replace(/:/g, '-');
  try {
    if (phases.has('engine')) {
      phase(
        'engine',
        '3 no-op stages: StreamRunner, a raw ioredis chain and BullMQ, in one process and one process per hop',
      );
      const env = await openBenchEnv(target, runId, 'engine', cleanups);
      try {
        report.phases.engine = await runEngine(env, settings.engine, progress);
      } finally {
        await env.close();
      }
    }
    const repeated: Repeated = { ingest: [], e2e: [], rebuild: [] };
    for (let run = 1; run <= repeat; run++) {
      const of = repeat > 1 ? ` (run ${run} of ${repeat})` : '';
      if (phases.has('ingest')) {
        phase('ingest', `signed webhooks: autocannon at saturation, paced steady rates${of}`);
        const env = await openBenchEnv(target, runId, 'ingest', cleanups);
        try {
          repeated.ingest.push(await runIngest(env, settings.ingest, cleanups, progress));
        } finally {
          await env.close();
        }
      }
      if (phases.has('e2e') || phases.has('rebuild')) {
        // The rebuild reads the archive the end-to-end phase fills; alone, it runs the saturation part first.
        phase('e2e', `webhook → written_back with role all${of}`);
        const rebuild = phases.has('rebuild')
          ? async (env: BenchEnv, tenants: string[]) => {
              phase('rebuild', `tickets projection from the archive${of}`);
              const result = await runRebuild(env, tenants, settings.rebuild);
              repeated.rebuild.push(result);
              progress(`rebuild: ${result.eventsPerSecond} events/s`);
            }
          : undefined;
        const openEnv = (name: string) => openBenchEnv(target, runId, name, cleanups);
        const e2e = await runE2e(openEnv, settings.e2e, cleanups, progress, {
          saturationOnly: !phases.has('e2e'),
          ...(rebuild ? { rebuild } : {}),
        });
        if (phases.has('e2e')) repeated.e2e.push(e2e);
      }
    }
    Object.assign(report.phases, medianRuns(repeated));
    if (repeat > 1) report.repeats = headlines(repeated);
    if (phases.has('tenants')) {
      phase('tenants', 'a busy tenant beside few and beside many registered tenants, 3 no-op hops');
      const env = await openBenchEnv(target, runId, 'tenants', cleanups);
      try {
        report.phases.tenants = await runTenants(env, settings.tenants, progress);
      } finally {
        await env.close();
      }
    }
    if (phases.has('memory')) {
      phase('memory', 'Redis bytes per ticket: ingest and 3 no-op hops, MEMORY USAGE of every key');
      const env = await openBenchEnv(target, runId, 'memory', cleanups);
      try {
        report.phases.memory = await runMemory(env, settings.memory);
      } finally {
        await env.close();
      }
    }
    if (phases.has('scale')) {
      phase('scale', 'one ingest, N worker and one projector process, on Redis and on a Redis Cluster');
      const openEnv = (name: string, extra: Record<string, string>) =>
        openBenchEnv(target, runId, name, cleanups, extra);
      report.phases.scale = await runScale(openEnv, settings.scale, cleanups, progress, logFile);
    }
  } catch (error) {
    // Interrupted: the signal handler is already removing everything, and closed what this was using.
    if (interrupted) return;
    progress(`failed: ${(error as Error).stack ?? String(error)}`);
    await cleanups.runAll(progress);
    process.exitCode = 1;
    return;
  }
  if (profiler) {
    const file = new URL(`${stamp}.cpuprofile`, resultsDirectory).pathname;
    await profiler.stop(file);
    progress(`CPU profile: ${file} (npx tsx bench/profile-summary.ts ${file})`);
  }
  const finished = new Date();
  report.finishedAt = finished.toISOString();
  report.durationSeconds = Math.round((finished.getTime() - started.getTime()) / 1_000);
  report.targets = checkTargets(report.phases);
  process.stdout.write(`\n${formatReport(report)}\n\n`);
  const path = writeReport(report, resultsDirectory);
  process.stdout.write(`results: ${path}\n`);
}

await main();
