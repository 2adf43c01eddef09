import { parseArgs } from 'node:util';
import type { Config } from '../config/config.js';
import { createStages } from '../consumers/index.js';
import { StreamdeskError } from '../errors.js';
import { ticketsProjection } from '../projections/tickets.js';
import { progressReporter } from '../replay/progress.js';
import { RebuildInterrupted, rebuildProjection } from '../replay/rebuild.js';
import { replayStage, toStreamBound } from '../replay/stage-replay.js';
import { createLogger } from '../runtime/logger.js';
import { openServices } from '../runtime/services.js';
import type { Command } from './command.js';

const rebuildable = { tickets: ticketsProjection } as const;

class ReplayUsageError extends Error {}

async function rebuild(config: Config, args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      projection: { type: 'string' },
      tenant: { type: 'string', multiple: true },
      restart: { type: 'boolean', default: false },
    },
  });
  const projection = rebuildable[values.projection as keyof typeof rebuildable];
  if (!projection) throw new ReplayUsageError(`--projection must be one of ${Object.keys(rebuildable).join(', ')}`);
  const services = await openServices(config, createLogger({ logLevel: 'warn' }, 'replay'));
  const interrupt = new AbortController();
  const onSignal = () => interrupt.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const known = (await services.registry.list()).map((tenant) => tenant.id);
    const tenants = values.tenant ?? known;
    const unknown = tenants.filter((tenant) => !known.includes(tenant));
    if (unknown.length > 0) throw new StreamdeskError('UNKNOWN_TENANT', `Unknown tenant(s): ${unknown.join(', ')}`);
    const progress = progressReporter(process.stderr, `rebuild ${projection.name}`);
    const result = await rebuildProjection({
      db: services.db,
      redis: services.redis,
      keys: services.keys,
      projection,
      schema: config.databaseSchema,
      tenants,
      restart: values.restart,
      signal: interrupt.signal,
      // Totals of all tenants: several are rebuilt at once, and a bar per tenant would jump between them.
      onProgress: (p) =>
        progress.update(
          p.applied,
          p.total,
          { phase: p.phase, tenantsDone: p.tenantsDone, tenants: p.tenantCount, inFlight: p.inFlight },
          `${p.phase} · tenants ${p.tenantsDone}/${p.tenantCount} done${p.inFlight.length > 0 ? ` · now ${p.inFlight.join(', ')}` : ''}`,
        ),
    });
    progress.finish({ events: result.events });
    process.stdout.write(
      `Rebuilt ${projection.name} for ${tenants.length} tenant(s) from ${result.events} events${result.resumed ? ' (resumed)' : ''}; swapped in.\n`,
    );
    return 0;
  } catch (error) {
    if (error instanceof RebuildInterrupted) {
      process.stderr.write(`\n${error.message}\n`);
      return 130;
    }
    throw error;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await services.close();
  }
}

async function stage(config: Config, args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      stage: { type: 'string' },
      tenant: { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string' },
      'dry-run': { type: 'boolean', default: false },
      run: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  if (!values.stage || !values.tenant || !values.from || !values.to)
    throw new ReplayUsageError('replay stage needs --stage, --tenant, --from and --to');
  const from = toStreamBound(values.from, 'from');
  const to = toStreamBound(values.to, 'to');
  const logger = createLogger({ logLevel: 'warn' }, 'replay');
  const services = await openServices(config, logger);
  try {
    const stages = createStages(services);
    const found = stages.find((candidate) => candidate.name === values.stage);
    if (!found)
      throw new ReplayUsageError(`--stage must be one of ${stages.map((candidate) => candidate.name).join(', ')}`);
    if (!(await services.registry.get(values.tenant)))
      throw new StreamdeskError('UNKNOWN_TENANT', `Tenant "${values.tenant}" does not exist`);
    const progress = progressReporter(process.stderr, `replay ${found.name}`);
    const result = await replayStage({
      db: services.db,
      redis: services.redis,
      keys: services.keys,
      stage: found,
      tenant: values.tenant,
      from,
      to,
      dryRun: values['dry-run'],
      run: values.run,
      emittedTtlSeconds: config.idempotencyTtlSeconds,
      logger,
      onProgress: (done, total) => progress.update(done, total),
    });
    progress.finish({ inputs: result.inputs });
    if (values.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    else {
      process.stdout.write(
        `${result.dryRun ? 'Dry run: ' : ''}${found.name} re-ran over ${result.inputs} event(s): ${result.ticketsChanged} ticket(s) changed, ${result.ticketsUnchanged} unchanged; ` +
          `${result.appended} event(s) appended (run ${result.runId})${result.failed.length > 0 ? `; ${result.failed.length} failed: ${result.failed.map((f) => `${f.ticket}: ${f.error}`).join('; ')}` : ''}\n`,
      );
    }
    return result.failed.length > 0 ? 1 : 0;
  } finally {
    await services.close();
  }
}

export const replayCommand: Command = {
  name: 'replay',
  help: [
    {
      usage: ['replay rebuild --projection tickets [--tenant T ...] [--restart]'],
      summary: ['rebuild a projection from history, then swap it in'],
    },
    {
      usage: ['replay stage --stage S --tenant T --from ID|TIME --to ID|TIME [--dry-run] [--run NAME] [--json]'],
      summary: ["re-run a stage's current code over a range"],
    },
  ],
  async run(config, args) {
    const [sub, ...rest] = args;
    try {
      if (sub === 'rebuild') return await rebuild(config, rest);
      if (sub === 'stage') return await stage(config, rest);
      throw new ReplayUsageError('replay needs a subcommand: rebuild or stage');
    } catch (error) {
      if (error instanceof ReplayUsageError) {
        process.stderr.write(`streamdesk: ${error.message}\n`);
        return 2;
      }
      throw error;
    }
  },
};
