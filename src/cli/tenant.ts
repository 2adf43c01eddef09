import { createInterface } from 'node:readline/promises';
import { parseArgs } from 'node:util';
import type { Config } from '../config/config.js';
import { checkNewWritebackTarget } from '../consumers/writeback/target-policy.js';
import { findUnstorable } from '../storable.js';
import { deleteTenant, type PurgeReport } from '../tenants/purge.js';
import {
  inboundAuthModes,
  publicTenant,
  writebackSchema,
  type InboundAuth,
  type WritebackTarget,
} from '../tenants/registry.js';
import { printable } from './printable.js';
import { openCliServices } from './cli-services.js';
import type { Command, CommandHelp } from './command.js';
import { credentialName, describe, needId, options, print, type TenantArgs } from './tenant-args.js';
import { tenantModelCommand, tenantModelHelp, type WithServices } from './tenant-model.js';
import { reseal, retireSecret, rotateHelpdeskKey, rotateSecret } from './tenant-secrets.js';
import { UsageError } from './usage-error.js';

const help: CommandHelp[] = [
  {
    usage: ['tenant create <id> [--name N] [--inbound-auth hmac|token|basic] [--writeback-json JSON] [--json]'],
    summary: ['register a tenant; prints its signing secret or token once'],
  },
  {
    usage: ['tenant create <id> [<id> ...] --format k6'],
    summary: ['register signed tenants; prints TENANTS for the k6 load test'],
  },
  { usage: ['tenant list [--json]'], summary: ['list tenants (no secrets)'] },
  {
    usage: ['tenant update <id> [--name N] [--inbound-auth M] [--writeback-json JSON] [--json]'],
    summary: ["change a tenant's name, inbound auth mode or write-back target"],
  },
  {
    usage: ['tenant rotate-secret <id> [--overlap-seconds S] [--json]'],
    summary: ['new secret or token; the old one is accepted for S seconds, or until retired'],
  },
  {
    usage: ['tenant retire-secret <id>'],
    summary: ['stop accepting the secret from before the last rotation'],
  },
  {
    usage: ['tenant rotate-helpdesk-key <id> --key K'],
    summary: ["replace the write-back target's API key, Zoho refresh token or signing secret"],
  },
  {
    usage: ['tenant delete <id> [--purge] [--yes] [--json]'],
    summary: [
      'unregister a tenant; --purge also removes its streams, DLQ,',
      'markers, rows and archive (asks for the id unless --yes)',
    ],
  },
  { usage: ['tenant reseal'], summary: ["re-encrypt every tenant's secrets with SECRETS_ENCRYPTION_KEY"] },
  ...tenantModelHelp,
];

export const unencryptedWarning =
  'SECRETS_ENCRYPTION_KEY is not set: tenant secrets, tokens, helpdesk keys and LLM API keys are stored unencrypted in Redis';

/** Commands that store a secret say when it is stored unencrypted. */
const storingSecrets = new Set(['create', 'update', 'rotate-secret', 'rotate-helpdesk-key']);

function parseWriteback(json: string | undefined): WritebackTarget | undefined {
  if (json === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    throw new UsageError('--writeback-json is not valid JSON');
  }
  const unstorable = findUnstorable(value, 'writeback');
  if (unstorable.length > 0)
    throw new UsageError(
      `--writeback-json: ${unstorable.map((field) => `${field.path}: ${field.message}`).join('; ')}`,
    );
  const parsed = writebackSchema.safeParse(value);
  if (!parsed.success)
    throw new UsageError(
      `--writeback-json: ${parsed.error.issues.map((issue) => `${issue.path.join('.') || 'value'}: ${issue.message}`).join('; ')}`,
    );
  return parsed.data;
}

function parseInboundAuth(mode: string | undefined): InboundAuth | undefined {
  if (mode === undefined) return undefined;
  if (!(inboundAuthModes as readonly string[]).includes(mode))
    throw new UsageError(`--inbound-auth must be one of ${inboundAuthModes.join(', ')}`);
  return mode as InboundAuth;
}

function parseName(name: string | undefined): string | undefined {
  if (name !== undefined && (name.length === 0 || name.length > 200))
    throw new UsageError('--name must be 1 to 200 characters');
  return name;
}

function reportText(report: PurgeReport): string {
  const lines = [`Deleted tenant ${report.tenant}${report.registration ? '' : ' (it was not registered)'}`];
  if (Object.keys(report.postgres).length > 0 || report.redis.keys > 0) {
    lines.push(
      `Redis: ${report.redis.keys} keys (${report.redis.streamEntries} events, ${report.redis.deadLetters} dead letters)`,
    );
    lines.push(
      `Postgres: ${
        Object.entries(report.postgres)
          .map(([table, rows]) => `${table} ${rows}`)
          .join(', ') || 'nothing'
      }`,
    );
  }
  return lines.join('\n');
}

async function confirmed(id: string, yes: boolean): Promise<boolean> {
  if (yes) return true;
  if (!process.stdin.isTTY)
    throw new UsageError('tenant delete --purge asks for confirmation; without a terminal, pass --yes');
  const prompt = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return (
      (
        await prompt.question(
          `This removes every event, dead letter, ticket and archived event of "${id}". Type the tenant id to confirm: `,
        )
      ).trim() === id
    );
  } finally {
    prompt.close();
  }
}

async function create(args: TenantArgs): Promise<number> {
  const { config, values, positionals, withServices } = args;
  if (values.format !== undefined && values.format !== 'k6')
    throw new UsageError(`--format must be k6 (got "${printable(values.format)}"); use --json for JSON`);
  if (values.format === 'k6') return createForK6(positionals, values.name, values['inbound-auth'], withServices);
  if (positionals.length > 1) throw new UsageError('tenant create takes one id (several only with --format k6)');
  const input = {
    id: needId(args),
    name: parseName(values.name),
    inboundAuth: parseInboundAuth(values['inbound-auth']),
    writeback: parseWriteback(values['writeback-json']),
  };
  if (input.writeback) await checkNewWritebackTarget(input.writeback, { allowPrivate: config.writebackAllowPrivate });
  return withServices(async ({ registry }) => {
    const tenant = await registry.create(input);
    print(
      { id: tenant.id, secret: tenant.secret, inboundAuth: tenant.inboundAuth },
      values.json,
      () => `Created tenant ${tenant.id}\n${credentialName(tenant)} (shown only now, keep it safe): ${tenant.secret}`,
    );
    return 0;
  });
}

async function list({ values, withServices }: TenantArgs): Promise<number> {
  return withServices(async ({ registry }) => {
    const tenants = await registry.list();
    print({ tenants: tenants.map(publicTenant) }, values.json, () =>
      tenants.length === 0 ? 'No tenants' : tenants.map(describe).join('\n'),
    );
    return 0;
  });
}

async function update(args: TenantArgs): Promise<number> {
  const { config, values, withServices } = args;
  const tenantId = needId(args);
  const changes = {
    name: parseName(values.name),
    inboundAuth: parseInboundAuth(values['inbound-auth']),
    writeback: parseWriteback(values['writeback-json']),
  };
  if (Object.values(changes).every((value) => value === undefined))
    throw new UsageError('tenant update needs --name, --inbound-auth or --writeback-json');
  if (changes.writeback)
    await checkNewWritebackTarget(changes.writeback, { allowPrivate: config.writebackAllowPrivate });
  return withServices(async ({ registry }) => {
    const tenant = await registry.update(tenantId, changes);
    print(publicTenant(tenant), values.json, () => `Updated ${describe(tenant)}`);
    return 0;
  });
}

async function remove(args: TenantArgs): Promise<number> {
  const { values, withServices } = args;
  const tenantId = needId(args);
  return withServices(async ({ registry, redis, keys, db }) => {
    if (values.purge && !(await confirmed(tenantId, values.yes))) {
      process.stderr.write('Not confirmed; nothing was deleted\n');
      return 1;
    }
    const report = await deleteTenant({ registry, redis, keys, db }, tenantId, { purge: values.purge });
    if (!report.registration && !values.purge) {
      process.stderr.write(`streamdesk: Tenant "${tenantId}" does not exist\n`);
      return 1;
    }
    print(report, values.json, () => reportText(report));
    return 0;
  });
}

const subcommands = new Map<string, (args: TenantArgs) => Promise<number>>([
  ['create', create],
  ['list', list],
  ['update', update],
  ['rotate-secret', rotateSecret],
  ['retire-secret', retireSecret],
  ['rotate-helpdesk-key', rotateHelpdeskKey],
  ['delete', remove],
  ['reseal', reseal],
]);

/** Opens the services for one subcommand, warning first when it stores a secret unencrypted. */
function servicesFor(config: Config, storesSecret: boolean): WithServices {
  return async (work) => {
    const services = await openCliServices(config);
    try {
      if (storesSecret && !services.registry.encryptsSecrets)
        process.stderr.write(`streamdesk: warning: ${unencryptedWarning}\n`);
      return await work(services);
    } finally {
      await services.close();
    }
  };
}

/** `streamdesk tenant <subcommand>`: the tenant lifecycle. */
export const tenantCommand: Command = {
  name: 'tenant',
  help,
  async run(config, rest) {
    const [sub, ...args] = rest;
    const storesSecret = storingSecrets.has(sub ?? '') || (sub === 'model' && args[0] === 'set');
    const withServices = servicesFor(config, storesSecret);
    if (sub === 'model') return tenantModelCommand(args, withServices);
    const { values, positionals } = parseArgs({ args, allowPositionals: true, options });
    const subcommand = subcommands.get(sub ?? '');
    if (sub === undefined || !subcommand)
      throw new UsageError(
        'tenant needs a subcommand: create, list, update, rotate-secret, retire-secret, rotate-helpdesk-key, delete, reseal or model',
      );
    return subcommand({ config, sub, values, positionals, withServices });
  },
};

/**
 * `tenant create a b c --format k6`: one line, `a:<secret>,b:<secret>,c:<secret>`, the TENANTS value the
 * k6 scripts read (loadtest/README.md). The scripts sign with HMAC, so only signed tenants qualify.
 */
async function createForK6(
  ids: string[],
  name: string | undefined,
  inboundAuth: string | undefined,
  withServices: WithServices,
): Promise<number> {
  if (ids.length === 0) throw new UsageError('tenant create --format k6 needs at least one id');
  if (name !== undefined) throw new UsageError('--name names one tenant; it does not go with --format k6');
  if (inboundAuth !== undefined && inboundAuth !== 'hmac')
    throw new UsageError('the k6 scripts sign their webhooks: --format k6 creates hmac tenants only');
  return withServices(async ({ registry }) => {
    const pairs: string[] = [];
    for (const id of ids) {
      const tenant = await registry.create({ id, inboundAuth: 'hmac' });
      pairs.push(`${tenant.id}:${tenant.secret}`);
    }
    process.stdout.write(`${pairs.join(',')}\n`);
    return 0;
  });
}
