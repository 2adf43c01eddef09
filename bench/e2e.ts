/**
 * Phase (c): webhook → ticket.written_back in Postgres with the whole pipeline in this process
 * (role `all`: ingest, context, enhance with the offline enhancer, write-back to target `none`,
 * projector, archiver), load from autocannon in a child process.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { startRole, type RunningRole } from '../src/runtime/roles.js';
import { runLoad, type LoadJob, type LoadSummary } from './support/load.js';
import type { Cleanups } from './support/cleanup.js';
import type { BenchEnv } from './support/env.js';
import { coresUsed, cpuSnapshot, type CpuParties, type CpuSnapshot } from './support/cpu.js';
import { instrumentDb, perTicket, type InstrumentedDb, type PgUsage } from './support/pg-usage.js';
import { round, until } from './support/stats.js';

export type E2eSettings = {
  warmupTickets: number;
  saturation: { tickets: number; connections: number };
  /** Steady (paced, open-model) rates; the end-to-end latency target is judged at the highest. */
  rates: { overallRate: number; durationSeconds: number; connections: number }[];
  /** Saturation again, with a second tenant that sends nothing. 0: skipped. */
  idleTenant: { tickets: number; connections: number };
  drainTimeoutMs: number;
};

type Percentiles = { p50: number; p99: number; max: number };

export type E2eRun = {
  label: string;
  tenant: string;
  accepted: number;
  non2xx: number;
  writtenBack: number;
  failed: number;
  /** Accepted tickets / (first webhook sent → last ticket projected as written_back). */
  ticketsPerSecond: number;
  /** Webhooks answered per second while sending. */
  webhooksPerSecond: number;
  /** Seconds from the last webhook answered until the last ticket was projected as written_back. */
  drainSeconds: number;
  /** written_back_at − received_at: the pipeline, from the webhook's XADD to the write-back's XADD. */
  pipelineMs: Percentiles;
  /** events.recorded_at of ticket.written_back − received_at: until the archiver committed it to Postgres. */
  toPostgresMs: Percentiles;
  /** Per step, the time since the previous step. */
  stepsMs: { context: Percentiles; enhance: Percentiles; writeback: Percentiles };
  webhookLatencyMs: { p50: number; p99: number };
  /** Cores used per party from the first webhook until everything was archived. */
  cpu: CpuParties | undefined;
  /**
   * Per ticket accepted: statements, commits and Postgres backend CPU ms of each part (see support/pg-usage.ts).
   * Only where the pipeline runs in the bench process (its pool can be instrumented).
   */
  postgresPerTicket?: PgUsage;
};

export type E2eResult = { settings: E2eSettings; runs: E2eRun[] };

type LatencyRow = Record<`${'pipeline' | 'context' | 'enhance' | 'writeback'}_${'p50' | 'p99' | 'max'}`, number> & {
  written_back: number;
  failed: number;
};

const ms = (from: string, to: string) => `extract(epoch FROM ${to} - ${from}) * 1000`;
const pct = (expr: string, name: string) =>
  `percentile_cont(0.5) WITHIN GROUP (ORDER BY ${expr}) AS ${name}_p50, percentile_cont(0.99) WITHIN GROUP (ORDER BY ${expr}) AS ${name}_p99, max(${expr}) AS ${name}_max`;

const latencySql = `
SELECT count(*) FILTER (WHERE status = 'written_back')::int AS written_back,
       count(*) FILTER (WHERE status = 'failed')::int AS failed,
       ${pct(ms('received_at', 'written_back_at'), 'pipeline')},
       ${pct(ms('received_at', 'context_gathered_at'), 'context')},
       ${pct(ms('context_gathered_at', 'enhanced_at'), 'enhance')},
       ${pct(ms('enhanced_at', 'written_back_at'), 'writeback')}
  FROM tickets WHERE tenant_id = $1`;

const archivedSql = `
SELECT ${pct(ms('t.received_at', 'e.recorded_at'), 'archived')}
  FROM tickets t JOIN events e ON e.tenant_id = t.tenant_id AND e.ticket_id = t.ticket_id AND e.type = 'ticket.written_back'
 WHERE t.tenant_id = $1`;

// Completion polls: cheap on purpose, they run every 50 ms beside the load.
const projectedSql =
  "SELECT count(*)::int AS n FROM tickets WHERE tenant_id = $1 AND status IN ('written_back', 'failed')";
const archivedCountSql =
  "SELECT count(*)::int AS n FROM events WHERE tenant_id = $1 AND type IN ('ticket.written_back', 'ticket.failed')";

const percentiles = (p50: number, p99: number, max: number): Percentiles => ({
  p50: round(Number(p50)),
  p99: round(Number(p99)),
  max: round(Number(max)),
});

/** The runners' default XREADGROUP BLOCK (startRole passes no override). */
const runnerBlockMs = 1_000;

async function addTenant(env: BenchEnv, role: RunningRole, tenant: string): Promise<string> {
  const { services } = env;
  const secret = (await services.registry.create({ id: tenant, writeback: { type: 'none' } })).secret;
  // Runners pick up a new tenant within a refresh interval (they create its groups), and read it
  // from their next XREADGROUP, after the current BLOCK ends: wait for both, so the tickets do not.
  await until(
    async () =>
      ((await services.redis.xinfo('GROUPS', services.keys.events(tenant)).catch(() => [])) as unknown[]).length >=
      role.runners.length,
    {
      timeoutMs: 5_000,
      intervalMs: 20,
      what: `the runners to pick up tenant ${tenant}`,
    },
  );
  await sleep(runnerBlockMs + 100);
  return secret;
}

/**
 * Sends one load and waits until every accepted ticket is written back, projected and archived;
 * latencies come from Postgres. `pg`: the role's instrumented pool, when it runs in this process.
 */
export async function measure(
  env: BenchEnv,
  label: string,
  tenant: string,
  send: (onReady: () => void) => Promise<LoadSummary>,
  settings: Pick<E2eSettings, 'drainTimeoutMs'>,
  options: { pg?: InstrumentedDb; cpuSnapshot?: () => CpuSnapshot } = {},
): Promise<E2eRun> {
  const { db } = env.services;
  const { pg } = options;
  const snapshot = options.cpuSnapshot ?? (() => cpuSnapshot());
  let cpu: CpuSnapshot;
  const pgBefore = await pg?.snapshot();
  const summary = await send(() => (cpu = snapshot()));
  let projectedAt: number | undefined;
  const count = async (sql: string) => (await db.query<{ n: number }>(sql, [tenant])).rows[0]!.n;
  await until(
    async () => {
      if (projectedAt === undefined) {
        if ((await count(projectedSql)) < summary.ok2xx) return false;
        projectedAt = Date.now();
      }
      return (await count(archivedCountSql)) >= summary.ok2xx;
    },
    {
      timeoutMs: settings.drainTimeoutMs,
      intervalMs: 50,
      what: `${summary.ok2xx} tickets of ${tenant} to be written back, projected and archived`,
    },
  );
  const cores = coresUsed(cpu, snapshot());
  const postgresPerTicket = pg && pgBefore ? perTicket(pgBefore, await pg.snapshot(), summary.ok2xx) : undefined;
  const latency = (await db.query<LatencyRow>(latencySql, [tenant])).rows[0]!;
  const archived = (
    await db.query<{ archived_p50: number; archived_p99: number; archived_max: number }>(archivedSql, [tenant])
  ).rows[0]!;
  return {
    label,
    tenant,
    accepted: summary.ok2xx,
    non2xx: summary.non2xx + summary.errors,
    writtenBack: latency.written_back,
    failed: latency.failed,
    ticketsPerSecond: round(summary.ok2xx / ((projectedAt! - summary.startedAt) / 1_000), 0),
    webhooksPerSecond: round(summary.completed / summary.durationSeconds, 0),
    drainSeconds: round((projectedAt! - summary.finishedAt) / 1_000, 2),
    pipelineMs: percentiles(latency.pipeline_p50, latency.pipeline_p99, latency.pipeline_max),
    toPostgresMs: percentiles(archived.archived_p50, archived.archived_p99, archived.archived_max),
    stepsMs: {
      context: percentiles(latency.context_p50, latency.context_p99, latency.context_max),
      enhance: percentiles(latency.enhance_p50, latency.enhance_p99, latency.enhance_max),
      writeback: percentiles(latency.writeback_p50, latency.writeback_p99, latency.writeback_max),
    },
    webhookLatencyMs: { p50: summary.latencyMs.p50, p99: summary.latencyMs.p99 },
    cpu: cores,
    ...(postgresPerTicket ? { postgresPerTicket } : {}),
  };
}

type EnvFactory = (name: string) => Promise<BenchEnv & { close(): Promise<void> }>;

type Job = Pick<LoadJob, 'mode' | 'connections' | 'amount' | 'overallRate' | 'durationSeconds' | 'texts'>;

/**
 * One measurement on a fresh prefix and schema with role `all`: the tenant's history (which the
 * context stage searches) starts empty, and runners know only the tenants this run creates.
 */
async function runOnce(
  openEnv: EnvFactory,
  cleanups: Cleanups,
  settings: E2eSettings,
  label: string,
  job: Job,
  options: { idleTenant?: boolean; keep?: (env: BenchEnv, tenants: string[]) => Promise<void> } = {},
): Promise<E2eRun> {
  const env = await openEnv(`e2e${label.replace(/[^a-z0-9]+/g, '').slice(0, 12)}`);
  const pg = instrumentDb(env.services.db, env.services.db, env.name);
  try {
    const role = await startRole('all', { ...env.services, db: pg.db }, { listen: true });
    const forget = cleanups.push('stop role all', () => role.stop());
    const tenant = 'e2e';
    const tenants = [tenant];
    let result: E2eRun;
    try {
      const address = role.app.server.address();
      if (!address || typeof address !== 'object') throw new Error('The role is not listening');
      const url = `http://127.0.0.1:${address.port}`;
      const secret = await addTenant(env, role, tenant);
      if (options.idleTenant) {
        await addTenant(env, role, 'e2e-idle');
        tenants.push('e2e-idle');
      }
      result = await measure(
        env,
        label,
        tenant,
        (onReady) => runLoad({ url, tenant, secret, idPrefix: 'T', ...job }, cleanups, onReady),
        settings,
        { pg },
      );
    } finally {
      forget();
      await role.stop();
    }
    await options.keep?.(env, tenants);
    return result;
  } finally {
    await pg.close();
    await env.close();
  }
}

/**
 * Warm-up, saturation, fixed rates, and saturation with an idle second tenant, each on its own
 * prefix and schema. `rebuild`, when given, runs on the last one's data before it is removed.
 */
export async function runE2e(
  openEnv: EnvFactory,
  settings: E2eSettings,
  cleanups: Cleanups,
  progress: (line: string) => void,
  options: { saturationOnly?: boolean; rebuild?: (env: BenchEnv, tenants: string[]) => Promise<void> } = {},
): Promise<E2eResult> {
  const runs: E2eRun[] = [];
  const report = (run: E2eRun) => {
    progress(
      `e2e ${run.label}: ${run.ticketsPerSecond} tickets/s, pipeline p50 ${run.pipelineMs.p50} ms p99 ${run.pipelineMs.p99} ms, drain ${run.drainSeconds} s`,
    );
    return run;
  };
  report(
    await runOnce(openEnv, cleanups, settings, 'warm-up', {
      mode: 'autocannon',
      connections: 16,
      amount: settings.warmupTickets,
    }),
  );
  const saturation: Job = {
    mode: 'autocannon',
    connections: settings.saturation.connections,
    amount: settings.saturation.tickets,
  };
  if (options.saturationOnly) {
    runs.push(report(await runOnce(openEnv, cleanups, settings, 'saturation', saturation, { keep: options.rebuild })));
    return { settings, runs };
  }
  runs.push(report(await runOnce(openEnv, cleanups, settings, 'saturation', saturation)));
  // The similar-ticket search's worst case: every ticket matches every earlier one.
  runs.push(
    report(
      await runOnce(openEnv, cleanups, settings, 'saturation, repetitive texts', {
        ...saturation,
        texts: 'repetitive',
      }),
    ),
  );
  if (settings.idleTenant.tickets > 0) {
    const job: Job = {
      mode: 'autocannon',
      connections: settings.idleTenant.connections,
      amount: settings.idleTenant.tickets,
    };
    runs.push(
      report(await runOnce(openEnv, cleanups, settings, 'saturation, 2nd tenant idle', job, { idleTenant: true })),
    );
  }
  // The highest rate last: its archive is the largest, and the rebuild phase reads it.
  const rates = [...settings.rates].sort((a, b) => a.overallRate - b.overallRate);
  for (const [index, rate] of rates.entries()) {
    const last = index === rates.length - 1;
    runs.push(
      report(
        await runOnce(
          openEnv,
          cleanups,
          settings,
          `${rate.overallRate}/s`,
          { mode: 'paced', ...rate },
          last ? { keep: options.rebuild } : {},
        ),
      ),
    );
  }
  return { settings, runs };
}
