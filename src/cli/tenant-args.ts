import type { parseArgs } from 'node:util';
import type { Config } from '../config/config.js';
import { publicTenant, type Tenant } from '../tenants/registry.js';
import { printable, printableJson } from './printable.js';
import type { WithServices } from './tenant-model.js';
import { UsageError } from './usage-error.js';

/** What the tenant subcommands share: their options, how they print, how they name a tenant. */
export const options = {
  name: { type: 'string' },
  'inbound-auth': { type: 'string' },
  'writeback-json': { type: 'string' },
  'overlap-seconds': { type: 'string' },
  key: { type: 'string' },
  purge: { type: 'boolean', default: false },
  format: { type: 'string' },
  yes: { type: 'boolean', default: false },
  json: { type: 'boolean', default: false },
} as const;

export function print(value: unknown, asJson: boolean, text: () => string): void {
  process.stdout.write(`${asJson ? printableJson(value) : text()}\n`);
}

export const describe = (tenant: Tenant) => {
  const shown = publicTenant(tenant);
  const overlap =
    shown.previousSecretExpiresAt === undefined
      ? ''
      : `\tprevious secret accepted ${shown.previousSecretExpiresAt === null ? 'until retired' : `until ${shown.previousSecretExpiresAt}`}`;
  return `${shown.id}\t${printable(shown.name)}\tauth=${shown.inboundAuth}\twriteback=${shown.writeback.type}\tcreated ${shown.createdAt}${overlap}`;
};

export const credentialName = (tenant: Tenant) => (tenant.inboundAuth === 'hmac' ? 'Signing secret' : 'Token');

export type TenantArgs = {
  config: Config;
  sub: string;
  values: ReturnType<typeof parseArgs<{ options: typeof options; allowPositionals: true }>>['values'];
  positionals: string[];
  withServices: WithServices;
};

export function needId({ sub, positionals }: TenantArgs): string {
  const id = positionals[0];
  if (!id) throw new UsageError(`tenant ${sub} needs an id: streamdesk tenant ${sub} <id>`);
  return id;
}
