import { setTimeout as sleep } from 'node:timers/promises';
import type { OwnRedisServer } from '../test/support/redis-server.js';
import type { Deployment, RoleProcess } from './deployment.js';
import type { OwnPostgres } from './postgres.js';

export type FaultContext = {
  deployment: Deployment;
  redis: OwnRedisServer;
  postgres: OwnPostgres;
  ingestPort: number;
  /** How long the load runs. */
  loadMs: number;
  quick: boolean;
  claimIdleMs: number;
  /** Resolves `ms` after the load started. */
  at(ms: number): Promise<void>;
  /** Records what was done, and when, in the results. */
  note(what: string): void;
};

export type Scenario = {
  name: string;
  what: string;
  /** Environment for every role of this scenario, over the run's defaults. */
  env?: (options: { claimIdleMs: number }) => Record<string, string>;
  /** Runs beside the load; everything it broke is running again when it returns. */
  fault(ctx: FaultContext): Promise<void>;
};

const pick = <T>(items: readonly T[]): T => {
  const item = items[Math.floor(Math.random() * items.length)];
  if (item === undefined) throw new Error('nothing to pick from');
  return item;
};

async function killAndRestart(ctx: FaultContext, victim: RoleProcess, port = 0): Promise<void> {
  await ctx.deployment.kill(victim);
  ctx.note(`SIGKILL ${victim.name}`);
  const replacement = await ctx.deployment.start(victim.role, port);
  ctx.note(`started ${replacement.name}`);
}

export const scenarios: readonly Scenario[] = [
  {
    name: 'baseline',
    what: 'no fault: the same load and processes, for comparison',
    async fault() {},
  },
  {
    name: 'worker-kill-loop',
    what: 'a random worker SIGKILLed and replaced every few seconds for the whole load',
    async fault(ctx) {
      const every = ctx.quick ? 3_000 : 5_000;
      for (let t = every; t < ctx.loadMs - 1_000; t += every) {
        await ctx.at(t);
        await killAndRestart(ctx, pick(ctx.deployment.processes('worker')));
      }
    },
  },
  {
    name: 'projector-kill',
    what: 'a projector SIGKILLed at 1/3 and at 2/3 of the load, restarted at once',
    async fault(ctx) {
      for (const share of [1 / 3, 2 / 3]) {
        await ctx.at(ctx.loadMs * share);
        await killAndRestart(ctx, pick(ctx.deployment.processes('projector')));
      }
    },
  },
  {
    name: 'ingest-kill',
    what: 'ingest SIGKILLed at 1/3 and 2/3 of the load, restarted on the same port 2 s later; clients retry',
    async fault(ctx) {
      for (const share of [1 / 3, 2 / 3]) {
        await ctx.at(ctx.loadMs * share);
        const victim = pick(ctx.deployment.processes('ingest'));
        await ctx.deployment.kill(victim);
        ctx.note(`SIGKILL ${victim.name}`);
        await sleep(2_000);
        ctx.note(`started ${(await ctx.deployment.start('ingest', ctx.ingestPort)).name}`);
      }
    },
  },
  {
    name: 'redis-kill',
    what: 'redis-server kill -9 at 1/3 of the load, restarted from its AOF (appendfsync always) 3 s later',
    async fault(ctx) {
      await ctx.at(ctx.loadMs / 3);
      await ctx.redis.kill();
      ctx.note('redis kill -9');
      await sleep(3_000);
      await ctx.redis.start();
      ctx.note('redis restarted from AOF');
    },
  },
  {
    name: 'postgres-restart',
    what: 'pg_ctl restart -m immediate at 1/3 and 2/3 of the load (crash recovery from the WAL)',
    async fault(ctx) {
      for (const share of [1 / 3, 2 / 3]) {
        await ctx.at(ctx.loadMs * share);
        ctx.note('postgres restart -m immediate');
        await ctx.postgres.restartImmediate();
        ctx.note('postgres up');
      }
    },
  },
  {
    name: 'postgres-stop',
    what: 'Postgres stopped (pg_ctl stop -m fast) for 20 s (5 s with --quick) during the load, then started',
    async fault(ctx) {
      await ctx.at(ctx.loadMs / 4);
      await ctx.postgres.stop('fast');
      ctx.note('postgres stopped');
      await sleep(ctx.quick ? 5_000 : 20_000);
      await ctx.postgres.start();
      ctx.note('postgres started');
    },
  },
  {
    name: 'worker-sigstop',
    what: 'a worker SIGSTOPped for 3 × CLAIM_IDLE_MS (2 s in this scenario) under load, then SIGCONT: others take its entries over, its late results are dropped',
    env: () => ({ CLAIM_IDLE_MS: '2000' }),
    async fault(ctx) {
      await ctx.at(ctx.loadMs / 3);
      const victim = pick(ctx.deployment.processes('worker'));
      ctx.deployment.freeze(victim);
      ctx.note(`SIGSTOP ${victim.name}`);
      await sleep(3 * ctx.claimIdleMs);
      ctx.deployment.thaw(victim);
      ctx.note(`SIGCONT ${victim.name}`);
    },
  },
  {
    name: 'workers-stopped',
    what: 'every worker stopped (SIGTERM) from 1/4 to 3/4 of the load while ingest keeps taking webhooks, then started again',
    async fault(ctx) {
      await ctx.at(ctx.loadMs / 4);
      const workers = ctx.deployment.processes('worker');
      await Promise.all(workers.map((worker) => ctx.deployment.kill(worker, 'SIGTERM')));
      ctx.note(`SIGTERM ${workers.map((worker) => worker.name).join(', ')}`);
      await ctx.at((ctx.loadMs * 3) / 4);
      const started = await Promise.all(workers.map(() => ctx.deployment.start('worker')));
      ctx.note(`started ${started.map((worker) => worker.name).join(', ')}`);
    },
  },
];
