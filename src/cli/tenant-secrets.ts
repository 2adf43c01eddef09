import { publicTenant } from '../tenants/registry.js';
import { credentialName, needId, print, type TenantArgs } from './tenant-args.js';
import { UsageError } from './usage-error.js';

/** `tenant rotate-secret|retire-secret|rotate-helpdesk-key|reseal`: a tenant's credentials. */
export async function rotateSecret(args: TenantArgs): Promise<number> {
  const { values, withServices } = args;
  const tenantId = needId(args);
  const overlap = values['overlap-seconds'];
  if (overlap !== undefined && !/^\d{1,8}$/.test(overlap))
    throw new UsageError('--overlap-seconds must be a whole number of seconds');
  return withServices(async ({ registry }) => {
    const tenant = await registry.rotateSecret(tenantId, overlap === undefined ? undefined : Number(overlap));
    const until = publicTenant(tenant).previousSecretExpiresAt;
    print(
      { id: tenant.id, secret: tenant.secret, inboundAuth: tenant.inboundAuth, previousSecretExpiresAt: until },
      values.json,
      () =>
        [
          `New ${credentialName(tenant).toLowerCase()} for ${tenant.id} (shown only now, keep it safe): ${tenant.secret}`,
          `The previous one is accepted ${until ? `until ${until}` : 'until you run: streamdesk tenant retire-secret ' + tenant.id}`,
        ].join('\n'),
    );
    return 0;
  });
}

export async function retireSecret(args: TenantArgs): Promise<number> {
  const tenantId = needId(args);
  return args.withServices(async ({ registry }) => {
    const retired = await registry.retirePreviousSecret(tenantId);
    print({ id: tenantId, retired }, args.values.json, () =>
      retired ? `Retired the previous secret of ${tenantId}` : `${tenantId} has no previous secret to retire`,
    );
    return 0;
  });
}

export async function rotateHelpdeskKey(args: TenantArgs): Promise<number> {
  const tenantId = needId(args);
  const key = args.values.key;
  if (!key) throw new UsageError('tenant rotate-helpdesk-key needs --key K');
  return args.withServices(async ({ registry }) => {
    const tenant = await registry.rotateHelpdeskKey(tenantId, key);
    const what =
      tenant.writeback.type === 'servicedesk-plus' && tenant.writeback.auth ? 'Zoho OAuth refresh token' : 'key';
    print(
      publicTenant(tenant),
      args.values.json,
      () => `Replaced the ${tenant.writeback.type} ${what} of ${tenant.id}`,
    );
    return 0;
  });
}

export async function reseal({ values, withServices }: TenantArgs): Promise<number> {
  return withServices(async ({ registry }) => {
    if (!registry.encryptsSecrets) throw new UsageError('tenant reseal needs SECRETS_ENCRYPTION_KEY');
    const count = await registry.reseal();
    print(
      { resealed: count },
      values.json,
      () => `Re-encrypted the secrets of ${count} tenant(s) with the current key`,
    );
    return 0;
  });
}
