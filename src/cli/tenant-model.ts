import { text } from 'node:stream/consumers';
import { parseArgs } from 'node:util';
import { StreamdeskError } from '../errors.js';
import type { Services } from '../runtime/services.js';
import {
  applyModelChange,
  modelSettingsChangeSchema,
  publicModelSettings,
  type ModelSettingsChange,
  type PublicModelSettings,
} from '../tenants/model-settings.js';
import type { CommandHelp } from './command.js';
import { printable, printableJson } from './printable.js';
import { UsageError } from './usage-error.js';

export const tenantModelHelp: CommandHelp[] = [
  {
    usage: [
      'tenant model set <id> [--model M] [--base-url U] [--api-key K | --api-key-stdin] [--language L] [--unset F ...] [--json]',
    ],
    summary: [
      "the tenant's own LLM settings (given ones replace, --unset model|base-url|api-key|language",
      'removes one); a new key rotates it; unset ones are the global OPENAI_* settings',
    ],
  },
  {
    usage: ['tenant model show <id> [--json]'],
    summary: ["the tenant's LLM settings (whether an API key is set, never the key)"],
  },
  { usage: ['tenant model clear <id>'], summary: ['back to the global OPENAI_* settings'] },
];

/** Runs work with the services open (and closed after). */
export type WithServices = (work: (services: Services) => Promise<number>) => Promise<number>;

const options = {
  model: { type: 'string' },
  'base-url': { type: 'string' },
  'api-key': { type: 'string' },
  'api-key-stdin': { type: 'boolean', default: false },
  language: { type: 'string' },
  unset: { type: 'string', multiple: true },
  json: { type: 'boolean', default: false },
} as const;

const unsettable: Record<string, keyof ModelSettingsChange> = {
  model: 'model',
  'base-url': 'baseUrl',
  'api-key': 'apiKey',
  language: 'language',
};

const describe = (tenant: string, shown: PublicModelSettings) =>
  [
    tenant,
    `model=${shown.model === null ? '(global)' : printable(shown.model)}`,
    `baseUrl=${shown.baseUrl === null ? '(global)' : printable(shown.baseUrl)}`,
    `apiKey=${shown.apiKeySet ? 'set' : '(global)'}`,
    `language=${shown.language ?? '(none)'}`,
  ].join('\t');

function print(tenant: string, shown: PublicModelSettings, asJson: boolean): void {
  process.stdout.write(`${asJson ? printableJson({ tenant, ...shown }) : describe(tenant, shown)}\n`);
}

/** A validation failure as a usage error: each field and what is wrong, never the value given. */
function usageOf(error: unknown): unknown {
  if (!(error instanceof StreamdeskError) || error.code !== 'BAD_REQUEST') return error;
  return new UsageError(`tenant model set: ${error.message}`);
}

type ModelValues = ReturnType<typeof parseArgs<{ options: typeof options; allowPositionals: true }>>['values'];

/** The change `tenant model set` asks for, from its flags (and the key from stdin); a usage error names the flag. */
async function requestedChange(values: ModelValues): Promise<ModelSettingsChange> {
  if (values['api-key'] !== undefined && values['api-key-stdin'])
    throw new UsageError('give --api-key or --api-key-stdin, not both');
  // A key on the command line ends up in shell history and the process list; --api-key-stdin keeps it out.
  const apiKey = values['api-key-stdin'] ? (await text(process.stdin)).trim() : values['api-key'];
  const raw: Record<string, string | null | undefined> = {
    model: values.model,
    baseUrl: values['base-url'],
    apiKey,
    language: values.language,
  };
  for (const name of values.unset ?? []) {
    const field = unsettable[name];
    if (!field) throw new UsageError(`--unset takes model, base-url, api-key or language (got "${printable(name)}")`);
    if (raw[field] !== undefined) throw new UsageError(`--unset ${name} and a new value for it contradict each other`);
    raw[field] = null;
  }
  const given = Object.fromEntries(Object.entries(raw).filter(([, value]) => value !== undefined));
  const parsed = modelSettingsChangeSchema.safeParse(given);
  if (parsed.success) return parsed.data;
  const flag = (path: string) =>
    ({ baseUrl: '--base-url', apiKey: '--api-key', model: '--model', language: '--language' })[path] ??
    'tenant model set';
  throw new UsageError(
    parsed.error.issues.map((issue) => `${flag(issue.path.join('.'))}: ${issue.message}`).join('; '),
  );
}

async function set(id: string, values: ModelValues, withServices: WithServices): Promise<number> {
  const change = await requestedChange(values);
  return withServices(async ({ registry }) => {
    const tenant = await registry
      .changeModelSettings(id, (current) => applyModelChange(current, change))
      .catch((error: unknown) => {
        throw usageOf(error);
      });
    print(id, publicModelSettings(tenant.model), values.json);
    return 0;
  });
}

/** `streamdesk tenant model set|show|clear <id>`. */
export async function tenantModelCommand(args: string[], withServices: WithServices): Promise<number> {
  const [sub, ...rest] = args;
  const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, options });
  const id = positionals[0];
  if (!id || positionals.length > 1)
    throw new UsageError(`tenant model ${sub ?? '<set|show|clear>'} needs one tenant id`);
  switch (sub) {
    case 'show':
      return withServices(async ({ registry }) => {
        const tenant = await registry.get(id);
        if (!tenant) throw new StreamdeskError('UNKNOWN_TENANT', `Tenant "${id}" does not exist`);
        print(id, publicModelSettings(tenant.model), values.json);
        return 0;
      });
    case 'clear':
      return withServices(async ({ registry }) => {
        await registry.changeModelSettings(id, () => undefined);
        process.stdout.write(
          values.json
            ? `${printableJson({ tenant: id, cleared: true })}\n`
            : `${id} uses the global OPENAI_* settings again\n`,
        );
        return 0;
      });
    case 'set':
      return set(id, values, withServices);
    default:
      throw new UsageError('tenant model needs a subcommand: set, show or clear');
  }
}
