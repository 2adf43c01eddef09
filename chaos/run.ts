/**
 * `npm run chaos`: the faults a user fears, one scenario at a time, each against a redis-server
 * (AOF, appendfsync always) and a Postgres cluster of its own, with the roles as separate
 * processes under a steady signed load. One line per scenario; the whole run goes to
 * chaos/results/<ISO timestamp>.json. Not part of `npm test`. See docs/guarantees.md.
 *
 *   npm run chaos [-- --only NAME[,NAME]] [--quick] [--rate N] [--duration S] [--tenants N]
 *                 [--workers N] [--projectors N] [--claim-idle-ms MS] [--drain-timeout S]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Cleanups } from '../bench/support/cleanup.js';
import { gitCommit } from '../bench/support/machine.js';
import { formatLine, runScenario, type ChaosSettings, type ScenarioResult } from './scenario.js';
import { scenarios } from './scenarios.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

const { values } = parseArgs({
  options: {
    only: { type: 'string' },
    quick: { type: 'boolean', default: false },
    rate: { type: 'string' },
    duration: { type: 'string' },
    tenants: { type: 'string' },
    workers: { type: 'string' },
    projectors: { type: 'string' },
    'claim-idle-ms': { type: 'string' },
    'drain-timeout': { type: 'string' },
    help: { type: 'boolean', default: false },
  },
  strict: true,
});

if (values.help) {
  process.stdout.write(`Scenarios:\n${scenarios.map((s) => `  ${s.name.padEnd(18)} ${s.what}`).join('\n')}\n`);
  process.exit(0);
}

function positive(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isFinite(parsed) || parsed <= 0) {
    process.stderr.write(`chaos: --${name} must be a positive number (got "${value}")\n`);
    process.exit(2);
  }
  return parsed;
}

const quick = values.quick;
const settings: ChaosSettings = {
  rate: positive('rate', values.rate, quick ? 25 : 50),
  durationSeconds: positive('duration', values.duration, quick ? 12 : 30),
  tenants: positive('tenants', values.tenants, 3),
  workers: positive('workers', values.workers, 2),
  projectors: positive('projectors', values.projectors, 2),
  claimIdleMs: positive('claim-idle-ms', values['claim-idle-ms'], 5_000),
  drainTimeoutMs: positive('drain-timeout', values['drain-timeout'], quick ? 60 : 120) * 1_000,
  quick,
};

const wanted = values.only
  ?.split(',')
  .map((name) => name.trim())
  .filter(Boolean);
const unknown = wanted?.filter((name) => !scenarios.some((scenario) => scenario.name === name)) ?? [];
if (unknown.length > 0) {
  process.stderr.write(
    `chaos: unknown scenario(s) ${unknown.join(', ')}; known: ${scenarios.map((s) => s.name).join(', ')}\n`,
  );
  process.exit(2);
}
const selected = wanted ? scenarios.filter((scenario) => wanted.includes(scenario.name)) : scenarios;

const cleanups = new Cleanups();
const interrupt = new AbortController();
const startedAt = new Date();
const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
const logRoot = join(root, 'chaos', 'logs', stamp);

let stopping = false;
const stop = (signal: NodeJS.Signals) => {
  if (stopping) return;
  stopping = true;
  process.stderr.write(`\n${signal}: stopping the processes and removing the servers…\n`);
  interrupt.abort();
  void cleanups.runAll((line) => process.stderr.write(`${line}\n`)).finally(() => process.exit(130));
};
process.on('SIGINT', () => stop('SIGINT'));
process.on('SIGTERM', () => stop('SIGTERM'));

process.stdout.write(
  `chaos: ${selected.length} scenario(s), ${settings.rate} webhooks/s for ${settings.durationSeconds} s over ${settings.tenants} tenants; ` +
    `1 ingest, ${settings.workers} workers, ${settings.projectors} projectors; CLAIM_IDLE_MS=${settings.claimIdleMs}; logs in ${logRoot}\n`,
);
const results: ScenarioResult[] = [];
try {
  for (const scenario of selected) {
    if (interrupt.signal.aborted) break;
    const result = await runScenario(scenario, settings, cleanups, logRoot, interrupt.signal);
    results.push(result);
    process.stdout.write(`${formatLine(result)}\n`);
  }
} finally {
  await cleanups.runAll((line) => process.stderr.write(`${line}\n`));
}
if (!interrupt.signal.aborted) {
  const file = join(root, 'chaos', 'results', `${stamp}.json`);
  mkdirSync(dirname(file), { recursive: true });
  const finishedAt = new Date();
  writeFileSync(
    file,
    `${JSON.stringify({ startedAt, finishedAt, commit: gitCommit(root), settings, lines: results.map(formatLine), scenarios: results }, null, 2)}\n`,
  );
  process.stdout.write(`wrote ${file} (${Math.round((finishedAt.getTime() - startedAt.getTime()) / 1_000)} s)\n`);
}
// Findings (lost, doubled, incomplete rows) are the run's output; only a scenario that could not run fails it.
process.exitCode = interrupt.signal.aborted ? 130 : results.some((result) => result.error) ? 1 : 0;
