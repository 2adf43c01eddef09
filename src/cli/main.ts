import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { loadConfig, type Config } from '../config/config.js';
import { StreamdeskError } from '../errors.js';
import { openDatabase } from '../projections/db.js';
import { migrate } from '../projections/migrate.js';
import { roles, startRole, type Role } from '../runtime/roles.js';
import { createLogger } from '../runtime/logger.js';
import { openServices, type Services } from '../runtime/services.js';
import { listDeadLetters, redriveDeadLetters } from '../streams/dlq.js';
import { redisKeys } from '../streams/keys.js';
import { createRedis, waitForRedis } from '../streams/redis.js';
import { allTenantsStatus, type TenantStatus } from '../streams/status.js';
import { findUnstorable } from '../storable.js';
import { shutdownTelemetry } from '../telemetry/tracing.js';
import { Budgets } from '../llm/budgets.js';
import { extraCommands } from './commands.js';
import { budgetLine } from './llm.js';
import { tenantCommand, tenantUsage, unencryptedWarning } from './tenant.js';
import { printable } from './printable.js';
import { UsageError } from './usage-error.js';
import './demo.js';

const usage = `Usage: streamdesk <command> [options]

Commands:
  start [--role all|ingest|worker|projector]   run the pipeline (default role: all)
  migrate                                      apply database migrations
${tenantUsage}  status [--json]                              stream length, per-group lag and pending, DLQ size, LLM budget
  dlq list --tenant T [--json]                 show dead letters
  dlq redrive --tenant T [--id ID ...]         put dead letters back on the stream
${Object.values(extraCommands)
  .map((command) => `  ${command.usage}\n`)
  .join('')}
Configuration comes from environment variables; see README.md.`;

export { UsageError };

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

function print(value: unknown, asJson: boolean, text: () => string): void {
  process.stdout.write(`${asJson ? JSON.stringify(value, null, 2) : text()}\n`);
}

async function withServices<T>(config: Config, role: string, work: (services: Services) => Promise<T>): Promise<T> {
  const services = await openServices(
    config,
    createLogger(
      { logLevel: config.logLevel === 'info' ? 'warn' : config.logLevel },
      role,
      pino.destination({ dest: 2, sync: true }),
    ),
  );
  try {
    return await work(services);
  } finally {
    await services.close();
  }
}

async function start(config: Config, args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { role: { type: 'string', default: 'all' } }, strict: true });
  if (!roles.includes(values.role as Role))
    throw new UsageError(`--role must be one of ${roles.join(', ')} (got "${values.role}")`);
  const role = values.role as Role;
  const logger = createLogger(config, role);
  const services = await openServices(config, logger);
  if (!services.registry.encryptsSecrets) logger.warn(unencryptedWarning);
  const running = await startRole(role, services);
  let signalled = false;
  const shutdown = async (signal: string) => {
    if (signalled) return;
    signalled = true;
    logger.info({ signal }, 'shutting down');
    // Past the deadline, leave anyway: what is unfinished stays pending and is reclaimed.
    setTimeout(() => process.exit(0), config.shutdownTimeoutMs + 2_000).unref();
    await running.stop();
    await services.close();
    // Spans still buffered (the last tickets' projector spans) go out before the exit.
    await shutdownTelemetry();
    logger.info('stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

export async function main(argv: string[]): Promise<number> {
  const unstorable = argv.flatMap((arg, index) => findUnstorable(arg, `argument ${index + 1}`));
  if (unstorable.length > 0)
    throw new UsageError(unstorable.map((field) => `${field.path}: ${field.message}`).join('; '));
  const [command, ...rest] = argv;
  if (!command || command === 'help' || command === '--help' || command === '-h') {
    process.stdout.write(`${usage}\n`);
    return command ? 0 : 2;
  }
  const config = loadConfig();
  switch (command) {
    case 'start':
      await start(config, rest);
      return -1;
    case 'migrate': {
      const db = await openDatabase(config);
      try {
        const applied = await migrate(db);
        process.stdout.write(applied.length > 0 ? `Applied ${applied.join(', ')}\n` : 'Database is up to date\n');
      } finally {
        await db.end();
      }
      return 0;
    }
    case 'tenant':
      return tenantCommand(config, rest);
    case 'status': {
      const { values } = parseArgs({ args: rest, options: { json: { type: 'boolean', default: false } } });
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
        print(
          { tenants: statuses },
          values.json,
          () =>
            statuses
              .map((s) =>
                [
                  formatStatus(s),
                  ...(s.budget.settings || s.budget.waiting > 0 ? [`  ${budgetLine(s.budget)}`] : []),
                ].join('\n'),
              )
              .join('\n') || 'No tenants',
        );
      } finally {
        redis.disconnect();
      }
      return 0;
    }
    case 'dlq': {
      const [sub, ...args] = rest;
      const { values } = parseArgs({
        args,
        options: {
          tenant: { type: 'string' },
          id: { type: 'string', multiple: true },
          json: { type: 'boolean', default: false },
        },
      });
      if (!values.tenant) throw new UsageError('dlq needs --tenant T');
      const tenant = values.tenant;
      return withServices(config, 'cli', async ({ registry, redis, keys }) => {
        if (!(await registry.get(tenant)))
          throw new StreamdeskError('UNKNOWN_TENANT', `Tenant "${tenant}" does not exist`);
        if (sub === 'list') {
          const letters = await listDeadLetters(redis, keys, tenant, 1_000);
          print({ deadLetters: letters }, values.json, () =>
            letters.length === 0
              ? 'No dead letters'
              : letters
                  .map(
                    (l) =>
                      `${l.id}\t${l.group}\t${l.code}\tattempts=${l.attempts}\tticket=${printable(l.event.ticket ?? '?')}\t${printable(l.message)}`,
                  )
                  .join('\n'),
          );
          return 0;
        }
        if (sub === 'redrive') {
          const result = await redriveDeadLetters(redis, keys, tenant, values.id);
          print(
            result,
            values.json,
            () =>
              `Redrove ${result.redriven} dead letter(s)${result.missing.length > 0 ? `; not found: ${result.missing.join(', ')}` : ''}`,
          );
          return result.missing.length > 0 ? 1 : 0;
        }
        throw new UsageError('dlq needs a subcommand: list or redrive');
      });
    }
    default: {
      const extra = extraCommands[command];
      if (extra) return extra.run(config, rest);
      throw new UsageError(`Unknown command "${command}"`);
    }
  }
}

/** Runs the CLI with the process's arguments and exits with its status; errors are one line, never a stack. */
export function runCli(argv: string[] = process.argv.slice(2)): void {
  main(argv).then(
    (code) => {
      if (code >= 0) process.exit(code);
    },
    (error: unknown) => {
      process.stderr.write(`streamdesk: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(error instanceof UsageError ? 2 : 1);
    },
  );
}
