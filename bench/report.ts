import { mkdirSync, writeFileSync } from 'node:fs';
import type { E2eResult, E2eRun } from './e2e.js';
import { pgParts, type PgUsage } from './support/pg-usage.js';
import type { EngineResult, LayoutName } from './engine.js';
import type { IngestResult } from './ingest.js';
import type { RebuildResult } from './rebuild.js';
import type { TenantsResult } from './tenants.js';
import type { MemoryResult } from './memory.js';
import { shapeName, type ScaleResult } from './scale.js';
import type { CpuParties } from './support/cpu.js';
import type { Machine } from './support/machine.js';

export type BenchReport = {
  startedAt: string;
  finishedAt: string;
  durationSeconds: number;
  command: string[];
  git: { commit: string };
  machine: Machine;
  logLevel: string;
  /** Run under the in-process CPU profiler (--profile): figures are a few per cent lower. */
  profiled: boolean;
  loadAverage1mAtPhaseStart: Record<string, number>;
  /** With --repeat N: every run's headline figure; `phases` holds the run with the median one. */
  repeats?: { ingestRequestsPerSecond: number[]; e2eTicketsPerSecond: number[]; rebuildEventsPerSecond: number[] };
  phases: {
    engine?: EngineResult;
    ingest?: IngestResult;
    e2e?: E2eResult;
    rebuild?: RebuildResult;
    tenants?: TenantsResult;
    memory?: MemoryResult;
    scale?: ScaleResult;
  };
  targets: TargetCheck[];
};

export type TargetCheck = { target: string; value: number | null; unit: string; met: boolean | null };

const check = (
  target: string,
  value: number | undefined,
  unit: string,
  met: (value: number) => boolean,
): TargetCheck => ({
  target,
  value: value ?? null,
  unit,
  met: value === undefined ? null : met(value),
});

/** The project's performance targets (docs/performance.md), against this run's figures. */
export function checkTargets(phases: BenchReport['phases']): TargetCheck[] {
  const ingestAt = (rate: number) =>
    phases.ingest?.runs.find((run) => run.overallRate === rate && run.mode === 'paced');
  const e2eAt500 = phases.e2e?.runs.find((run) => run.label === '500/s');
  return [
    check(
      'engine chain ≥ 60 % of the raw chain in its best layout',
      phases.engine ? phases.engine.ratio * 100 : undefined,
      '%',
      (v) => v >= 60,
    ),
    check('engine chain ≥ 5 × BullMQ', phases.engine?.bullmqRatio, '×', (v) => v >= 5),
    check(
      'ingest ≥ 10,000 signed webhooks/s',
      phases.ingest?.runs.find((run) => run.overallRate === undefined)?.requestsPerSecond,
      'req/s',
      (v) => v >= 10_000,
    ),
    check('ingest p99 < 20 ms at a steady 5,000/s', ingestAt(5_000)?.p99Ms, 'ms', (v) => v < 20),
    check(
      'end to end ≥ 1,500 tickets/s',
      phases.e2e?.runs.find((run) => run.label === 'saturation')?.ticketsPerSecond,
      'tickets/s',
      (v) => v >= 1_500,
    ),
    check('end to end p99 < 250 ms at a steady 500/s', e2eAt500?.pipelineMs.p99, 'ms', (v) => v < 250),
    check('rebuild ≥ 50,000 events/s', phases.rebuild?.eventsPerSecond, 'events/s', (v) => v >= 50_000),
    check(
      'busy tenant beside the most tenants ≥ 80 % of its rate beside the fewest',
      phases.tenants ? phases.tenants.drainRatio * 100 : undefined,
      '%',
      (v) => v >= 80,
    ),
  ];
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  const line = (row: string[]) =>
    row
      .map((cell, column) =>
        column === 0 || column === 1 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!),
      )
      .join('  ')
      .trimEnd();
  return [line(rows[0]!), widths.map((width) => '-'.repeat(width)).join('  '), ...rows.slice(1).map(line)].join('\n');
}

const n = (value: number) => Math.round(value).toLocaleString('en-US');
const msText = (value: number) => `${value.toFixed(1)} ms`;
/** Cores used: streamdesk / Postgres / Redis / load generator (or the bench's hop processes) / anything else. */
const cpuText = (cpu: CpuParties | undefined) =>
  cpu
    ? [cpu.streamdesk, cpu.postgres, cpu.redis, cpu.loadGenerator, cpu.other]
        .map((value) => value.toFixed(2))
        .join(' / ')
    : '';

/** statements / commits / backend CPU ms per ticket, per part that used any. */
const pgText = (usage: PgUsage | undefined) =>
  usage
    ? [
        ...pgParts
          .filter((part) => usage[part].statements > 0)
          .map((part) => `${part} ${usage[part].statements} st ${usage[part].commits} commits ${usage[part].cpuMs} ms`),
        `xact_commit ${usage.xactCommit}`,
      ].join('; ')
    : '';

/** One end-to-end measurement: webhook → written_back. */
function pipelineRow(
  phase: string,
  run: Pick<E2eRun, 'label' | 'accepted' | 'ticketsPerSecond' | 'pipelineMs' | 'non2xx' | 'failed' | 'cpu'>,
): string[] {
  return [
    phase,
    `webhook → written_back, ${run.label}, ${n(run.accepted)} tickets`,
    `${n(run.ticketsPerSecond)} tickets/s`,
    msText(run.pipelineMs.p50),
    msText(run.pipelineMs.p99),
    String(run.non2xx + run.failed),
    cpuText(run.cpu),
  ];
}

export function formatReport(report: BenchReport): string {
  const { engine, ingest, e2e, rebuild, tenants, memory, scale } = report.phases;
  const rows: string[][] = [
    ['phase', 'measure', 'value', 'p50', 'p99', 'errors', 'cores: sd / pg / redis / load / other'],
  ];
  if (engine) {
    const last = engine.runs.at(-1);
    const layouts: [LayoutName, string][] = [
      ['engine', 'StreamRunner, one process'],
      ['engineSplit', 'StreamRunner, one process per hop'],
      ['raw', 'raw ioredis chain, one process'],
      ['rawSplit', 'raw ioredis chain, one process per hop'],
      ['bullmq', `BullMQ ${engine.settings.bullmq.version}, 3 queues, one process`],
    ];
    const measure = `3-hop no-op chain, ${n(engine.settings.items)} items, median of ${engine.runs.length}`;
    for (const [name, what] of layouts)
      rows.push([
        'engine',
        `${what} (${measure})`,
        `${n(engine.itemsPerSecond[name])} items/s`,
        '',
        '',
        '',
        cpuText(last?.[name].cpu),
      ]);
    rows.push([
      'engine',
      'engine / raw, each in its best layout',
      `${(engine.ratio * 100).toFixed(1)} %`,
      '',
      '',
      '',
      '',
    ]);
    rows.push(['engine', 'engine (best layout) / BullMQ', `${engine.bullmqRatio.toFixed(1)} ×`, '', '', '', '']);
  }
  for (const run of ingest?.runs ?? []) {
    rows.push([
      'ingest',
      `signed webhooks, ${run.label}, ${run.connections} conn.`,
      `${n(run.requestsPerSecond)} req/s`,
      msText(run.p50Ms),
      msText(run.p99Ms),
      String(run.non2xx + run.errors),
      cpuText(run.cpu),
    ]);
  }
  for (const run of e2e?.runs ?? []) {
    rows.push(pipelineRow('e2e', run));
    rows.push([
      'e2e',
      `  … until archived in Postgres (drain ${run.drainSeconds} s)`,
      '',
      msText(run.toPostgresMs.p50),
      msText(run.toPostgresMs.p99),
      '',
      '',
    ]);
    rows.push(['e2e', `  … Postgres per ticket: ${pgText(run.postgresPerTicket)}`, '', '', '', '', '']);
  }
  if (rebuild) {
    rows.push([
      'rebuild',
      `tickets from archive (${n(rebuild.eventsApplied - rebuild.streamEvents)}) + stream (${n(rebuild.streamEvents)})`,
      `${n(rebuild.eventsPerSecond)} events/s`,
      '',
      '',
      rebuild.stateMatches ? '0' : 'state differs',
      cpuText(rebuild.cpu),
    ]);
  }
  for (const run of tenants?.runs ?? []) {
    rows.push([
      'tenants',
      `busy tenant, ${n(tenants!.settings.busyTickets)} tickets, beside ${n(run.beside)} (${run.readsPerSecond} reads/s, ${run.streamsPerRead.mean} streams each; Redis XREADGROUP ${run.redisXreadgroup.usecPerCall} µs/call)`,
      `${n(run.busyTicketsPerSecond)} tickets/s`,
      `small ${n(run.small.p50Ms)} ms`,
      `small ${n(run.small.p99Ms)} ms`,
      '',
      '',
    ]);
  }
  if (memory) {
    const parts = Object.entries(memory.bytesPerTicket).filter(([kind]) => kind !== 'all');
    rows.push([
      'memory',
      `Redis bytes per ticket, ${n(memory.settings.tickets)} tickets, ${memory.keysPerTicket} keys each (${parts.map(([kind, value]) => `${kind} ${n(value)}`).join(', ')})`,
      `${n(memory.bytesPerTicket.all ?? 0)} B`,
      '',
      '',
      '',
      '',
    ]);
  }
  for (const run of scale?.runs ?? []) {
    rows.push(pipelineRow('scale', run));
    const perProcess = Object.entries(run.cpu?.byProcess ?? {}).map(([label, cores]) => `${label} ${cores.toFixed(2)}`);
    rows.push(['scale', `  … cores per process: ${perProcess.join(', ')}`, '', '', '', '', '']);
  }
  for (const shape of scale && scale.settings.repeats > 1 ? scale.medians : []) {
    const cores = Object.entries(shape.cores).map(([label, value]) => `${label} ${value.toFixed(2)}`);
    rows.push([
      'scale',
      `median of ${shape.repeats}: ${shape.redis}, ${shapeName(shape.workers)} (cores: ${cores.join(', ')})`,
      `${n(shape.ticketsPerSecond)} tickets/s`,
      msText(shape.pipelineP50Ms),
      msText(shape.pipelineP99Ms),
      '',
      '',
    ]);
  }
  const targets = report.targets
    .filter((target) => target.met !== null)
    .map(
      (target) =>
        `  ${target.met ? 'met    ' : 'NOT met'}  ${target.target}: ${target.value === null ? '—' : `${n(target.value)} ${target.unit}`}`,
    );
  const m = report.machine;
  return [
    `streamdesk bench — ${report.git.commit.slice(0, 12)}${report.git.commit.endsWith('+dirty') ? '+dirty' : ''}, ${m.cpus} × ${m.cpuModel}, ${m.totalMemoryGiB} GiB, Node ${m.node}, Redis ${m.redis.split(' ')[0]}, ${m.postgres.split(' ').slice(0, 2).join(' ')}`,
    '',
    table(rows),
    ...repeatLines(report.repeats),
    '',
    'targets:',
    ...targets,
  ].join('\n');
}

function repeatLines(repeats: BenchReport['repeats']): string[] {
  if (!repeats) return [];
  const runs = (label: string, values: number[], unit: string) =>
    values.length > 0 ? [`  ${label}: ${values.map(n).join(' / ')} ${unit}`] : [];
  return [
    '',
    'every run (the table shows the median one):',
    ...runs('ingest at saturation', repeats.ingestRequestsPerSecond, 'req/s'),
    ...runs('end to end at saturation', repeats.e2eTicketsPerSecond, 'tickets/s'),
    ...runs('rebuild', repeats.rebuildEventsPerSecond, 'events/s'),
  ];
}

/** Writes bench/results/<ISO timestamp>.json and returns its path. */
export function writeReport(report: BenchReport, directory: URL): string {
  mkdirSync(directory, { recursive: true });
  const file = new URL(`${report.startedAt.replace(/:/g, '-')}.json`, directory);
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  return file.pathname;
}
