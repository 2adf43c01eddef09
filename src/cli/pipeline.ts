import { parseArgs } from 'node:util';
import { openDatabase } from '../projections/db.js';
import { migrate } from '../projections/migrate.js';
import { roles, startRole, type Role } from '../runtime/roles.js';
import { createLogger } from '../runtime/logger.js';
import { openServices } from '../runtime/services.js';
import { shutdownTelemetry } from '../telemetry/tracing.js';
import type { Command } from './command.js';
import { unencryptedWarning } from './tenant.js';
import { UsageError } from './usage-error.js';

/** `streamdesk start`: runs a role until SIGTERM or SIGINT, then stops it within the shutdown timeout. */
export const startCommand: Command = {
  name: 'start',
  help: [{ usage: ['start [--role all|ingest|worker|projector]'], summary: ['run the pipeline (default role: all)'] }],
  async run(config, args) {
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
    return -1;
  },
};

/** `streamdesk migrate`: applies the database migrations not applied yet. */
export const migrateCommand: Command = {
  name: 'migrate',
  help: [{ usage: ['migrate'], summary: ['apply database migrations'] }],
  async run(config) {
    const db = await openDatabase(config);
    try {
      const applied = await migrate(db);
      process.stdout.write(applied.length > 0 ? `Applied ${applied.join(', ')}\n` : 'Database is up to date\n');
    } finally {
      await db.end();
    }
    return 0;
  },
};
