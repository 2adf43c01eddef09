import { parseArgs } from 'node:util';
import { Budgets } from '../llm/budgets.js';
import { redisKeys } from '../streams/keys.js';
import { createRedis, waitForRedis } from '../streams/redis.js';
import { allTenantsStatus, type TenantStatus } from '../streams/status.js';
import type { Command } from './command.js';
import { budgetLine } from './llm.js';

function formatStatus(s: TenantStatus): string {
  const lines = [
    `${s.tenant}: ${s.streamLength} events, ${s.dlqLength} dead letters, ${s.lanes.priority} events in the priority lane`,
  ];
  for (const g of s.groups) {
    const states = g.consumerStates ?? [];
    const count = (state: string) => states.filter((c) => c.state === state).length;
    const lag = g.lag === null ? '?' : `${g.lagCapped ? '>=' : ''}${g.lag}`;
    lines.push(
      `  ${g.name.padEnd(10)} lag=${lag} pending=${g.pending} oldest=${g.oldestPendingAgeMs === null ? '-' : `${Math.round(g.oldestPendingAgeMs / 1_000)}s`} consumers: ${count('live')} live, ${count('stalled')} stalled, ${count('dead')} dead`,
    );
    for (const c of states.filter((consumer) => consumer.state !== 'live'))
      lines.push(`    ${c.state} ${c.name} silent ${Math.round(c.idleMs / 1_000)}s, ${c.pending} pending`);
  }
  return lines.join('\n');
}

/** `streamdesk status`: every tenant's streams, groups, consumers and LLM budget. */
export const statusCommand: Command = {
  name: 'status',
  help: [{ usage: ['status [--json]'], summary: ['stream length, per-group lag and pending, DLQ size, LLM budget'] }],
  async run(config, args) {
    const { values } = parseArgs({ args, options: { json: { type: 'boolean', default: false } } });
    // Everything status shows lives in Redis: it answers while Postgres is down.
    const redis = createRedis(config, 'commands');
    try {
      await waitForRedis(redis).catch((error: unknown) => {
        throw new Error(
          `Cannot reach Redis at ${config.redisClusterNodes ? 'REDIS_CLUSTER_NODES' : config.redisUrl.replace(/\/\/[^@]*@/, '//***@')}: ${(error as Error).message}`,
        );
      });
      const keys = redisKeys(config.redisPrefix);
      const tenants = (await redis.smembers(keys.tenantIds)).sort();
      const budgets = new Budgets(redis, keys);
      const statuses = await Promise.all(
        (await allTenantsStatus(redis, keys, tenants, { claimIdleMs: config.retry.claimIdleMs })).map(
          async (status) => ({ ...status, budget: await budgets.status(status.tenant) }),
        ),
      );
      const text = () =>
        statuses
          .map((s) =>
            [formatStatus(s), ...(s.budget.settings || s.budget.waiting > 0 ? [`  ${budgetLine(s.budget)}`] : [])].join(
              '\n',
            ),
          )
          .join('\n') || 'No tenants';
      process.stdout.write(`${values.json ? JSON.stringify({ tenants: statuses }, null, 2) : text()}\n`);
    } finally {
      redis.disconnect();
    }
    return 0;
  },
};
