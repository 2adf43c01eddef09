import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import {
  deleteContextItem,
  importContextData,
  listContextData,
  type ContextKind,
  type ImportFormat,
} from '../admin/context-data.js';
import { parseInput } from '../admin/input.js';
import { listTickets, ticketListQuerySchema } from '../admin/tickets.js';
import type { Config } from '../config/config.js';
import { StreamdeskError } from '../errors.js';
import { createLogger } from '../runtime/logger.js';
import { openServices, type Services } from '../runtime/services.js';
import type { Command } from './command.js';

class AdminDataUsageError extends Error {}

const pagingSchema = z.object({
  limit: z.coerce.number().int().min(1).max(10_000),
  offset: z.coerce.number().int().min(0),
});

async function forTenant<T>(
  config: Config,
  tenant: string | undefined,
  work: (services: Services, tenant: string) => Promise<T>,
): Promise<T> {
  if (!tenant) throw new AdminDataUsageError('--tenant T is required');
  const services = await openServices(config, createLogger({ logLevel: 'warn' }, 'cli'));
  try {
    if (!(await services.registry.get(tenant)))
      throw new StreamdeskError('UNKNOWN_TENANT', `Tenant "${tenant}" does not exist`);
    return await work(services, tenant);
  } finally {
    await services.close();
  }
}

const out = (text: string) => process.stdout.write(`${text}\n`);

/** `streamdesk tickets list|search`: the admin API's listing, for a terminal or a script (--json). */
export const ticketsCommand: Command = {
  name: 'tickets',
  help: [
    {
      usage: [
        'tickets list|search --tenant T [TEXT] [--status S] [--from ISO] [--to ISO] [--limit N] [--cursor C] [--json]',
      ],
      summary: ["list or search a tenant's tickets, newest first"],
    },
  ],
  async run(config, args) {
    const [sub, ...rest] = args;
    if (sub !== 'list' && sub !== 'search') throw new AdminDataUsageError('tickets needs a subcommand: list or search');
    const { values, positionals } = parseArgs({
      args: rest,
      allowPositionals: true,
      options: {
        tenant: { type: 'string' },
        status: { type: 'string' },
        q: { type: 'string' },
        from: { type: 'string' },
        to: { type: 'string' },
        limit: { type: 'string' },
        cursor: { type: 'string' },
        json: { type: 'boolean', default: false },
      },
    });
    const text = values.q ?? (positionals.length > 0 ? positionals.join(' ') : undefined);
    if (sub === 'search' && !text) throw new AdminDataUsageError('tickets search needs the text to search for');
    const query = parseInput(ticketListQuerySchema, {
      status: values.status,
      q: text,
      from: values.from,
      to: values.to,
      limit: values.limit,
      cursor: values.cursor,
    });
    return forTenant(config, values.tenant, async ({ db }, tenant) => {
      const page = await listTickets(db, tenant, query);
      if (values.json) out(JSON.stringify(page, null, 2));
      else if (page.tickets.length === 0)
        out(
          text || values.status || values.from || values.to
            ? 'No ticket matches'
            : `Tenant ${tenant} has no tickets yet`,
        );
      else {
        for (const ticket of page.tickets)
          out(`${ticket.ticketId}\t${ticket.status}\t${ticket.receivedAt}\t${ticket.subject ?? ''}`);
        if (page.nextCursor) out(`More: --cursor ${page.nextCursor}`);
      }
      return 0;
    });
  },
};

const kindNames: Record<ContextKind, { plural: string; command: string }> = {
  assets: { plural: 'assets', command: 'assets' },
  kb: { plural: 'knowledge-base articles', command: 'kb' },
};

const contextOptions = {
  tenant: { type: 'string' },
  format: { type: 'string' },
  'dry-run': { type: 'boolean', default: false },
  q: { type: 'string' },
  limit: { type: 'string', default: '100' },
  offset: { type: 'string', default: '0' },
  json: { type: 'boolean', default: false },
} as const;

type ContextArgs = {
  config: Config;
  kind: ContextKind;
  values: ReturnType<typeof parseArgs<{ options: typeof contextOptions }>>['values'];
  positionals: string[];
};

async function importFile({ config, kind, values, positionals }: ContextArgs): Promise<number> {
  const name = kindNames[kind].command;
  const file = positionals[0];
  if (!file)
    throw new AdminDataUsageError(`${name} import needs a file: streamdesk ${name} import --tenant T assets.csv`);
  const format = (values.format ?? (extname(file).toLowerCase() === '.json' ? 'json' : 'csv')) as ImportFormat;
  if (format !== 'csv' && format !== 'json') throw new AdminDataUsageError('--format must be csv or json');
  let content: string;
  try {
    content = readFileSync(file, 'utf8');
  } catch (error) {
    throw new AdminDataUsageError(`Cannot read ${file}: ${(error as Error).message}`);
  }
  return forTenant(config, values.tenant, async ({ db }, tenant) => {
    const result = await importContextData(db, kind, tenant, { format, content, dryRun: values['dry-run'] });
    if (values.json) out(JSON.stringify(result, null, 2));
    else {
      out(
        `${result.dryRun ? 'Checked (dry run, nothing written)' : 'Imported'}: ${result.received} row(s), ${result.inserted} added, ${result.updated} replaced, ${result.errors.length} not imported`,
      );
      for (const error of result.errors)
        out(
          `  row ${error.row}${error.line ? ` (line ${error.line})` : ''}${error.id ? ` id ${error.id}` : ''}: ${error.messages.join('; ')}`,
        );
    }
    return result.errors.length > 0 ? 1 : 0;
  });
}

async function list({ config, kind, values }: ContextArgs): Promise<number> {
  const paging = parseInput(pagingSchema, { limit: values.limit, offset: values.offset });
  return forTenant(config, values.tenant, async ({ db }, tenant) => {
    const page = await listContextData(db, kind, tenant, { q: values.q, ...paging });
    if (values.json) out(JSON.stringify(page, null, 2));
    else if (page.items.length === 0) out(`No ${kindNames[kind].plural}`);
    else {
      for (const item of page.items)
        out(
          'hostname' in item
            ? `${item.id}\t${item.hostname}\t${item.network}\t${item.site ?? ''}\t${item.kind ?? ''}`
            : `${item.id}\t${item.title}`,
        );
      out(`${page.items.length} of ${page.total}`);
    }
    return 0;
  });
}

async function remove({ config, kind, values, positionals }: ContextArgs): Promise<number> {
  const id = positionals[0];
  if (!id) throw new AdminDataUsageError(`${kindNames[kind].command} delete needs an id`);
  return forTenant(config, values.tenant, async ({ db }, tenant) => {
    if (!(await deleteContextItem(db, kind, tenant, id)))
      throw new StreamdeskError(
        'NOT_FOUND',
        `No ${kind === 'assets' ? 'asset' : 'article'} "${id}" for tenant "${tenant}"`,
      );
    out(`Deleted ${id}`);
    return 0;
  });
}

const contextSubcommands = new Map([
  ['import', importFile],
  ['list', list],
  ['delete', remove],
]);

/** `streamdesk assets|kb import|list|delete`: the tenant's context data, as in the admin API. */
function contextDataCommand(kind: ContextKind): Command {
  const name = kindNames[kind].command;
  const { plural } = kindNames[kind];
  return {
    name,
    help: [
      {
        usage: [`${name} import --tenant T FILE [--format csv|json] [--dry-run] [--json]`],
        summary: [`import ${plural} from CSV or JSON (upsert by id)`],
      },
      {
        usage: [`${name} list --tenant T [--q TEXT] [--limit N] [--offset N] [--json]`, `${name} delete --tenant T ID`],
        summary: [`list or delete ${plural}`],
      },
    ],
    async run(config, args) {
      const [sub, ...rest] = args;
      const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, options: contextOptions });
      const subcommand = contextSubcommands.get(sub ?? '');
      if (!subcommand) throw new AdminDataUsageError(`${name} needs a subcommand: import, list or delete`);
      return subcommand({ config, kind, values, positionals });
    },
  };
}

export const assetsCommand = contextDataCommand('assets');
export const kbCommand = contextDataCommand('kb');
