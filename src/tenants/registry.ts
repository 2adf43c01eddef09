import { randomBytes } from 'node:crypto';
import { createClient, createCluster } from 'redis';
import { Repository, Schema, type Entity } from 'redis-om';
import { z } from 'zod';
import type { Config } from '../config/config.js';
import { StreamdeskError } from '../errors.js';
import { redisKeys, tenantIdPattern } from '../streams/keys.js';
import { BoundedCache } from './cache.js';
import { tenantModelSettingsSchema, type TenantModelSettings } from './model-settings.js';
import { SecretBox } from './secret-box.js';

/**
 * ServiceDesk Plus Cloud (and MSP Cloud): a Zoho "self client" whose refresh token buys one-hour
 * access tokens from the accounts server of the portal's data centre.
 */
export const zohoOAuthSchema = z.object({
  type: z.literal('zoho-oauth'),
  accountsUrl: z.url({ protocol: /^https?$/ }),
  clientId: z.string().min(1),
  clientSecret: z.string().min(1),
  refreshToken: z.string().min(1),
});
export type ZohoOAuth = z.infer<typeof zohoOAuthSchema>;

export const writebackSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('none') }),
  // On-premises: the technician key in `authToken`; Cloud: Zoho OAuth in `auth`. Exactly one of the two.
  z
    .object({
      type: z.literal('servicedesk-plus'),
      baseUrl: z.url({ protocol: /^https?$/ }),
      authToken: z.string().min(1).optional(),
      auth: zohoOAuthSchema.optional(),
    })
    .refine((target) => (target.authToken === undefined) !== (target.auth === undefined), {
      message:
        'give either authToken (on-premises technician key) or auth (Zoho OAuth for ServiceDesk Plus Cloud), not both or neither',
      path: ['auth'],
    }),
  z.object({ type: z.literal('webhook'), url: z.url({ protocol: /^https?$/ }), secret: z.string().min(16) }),
]);
export type WritebackTarget = z.infer<typeof writebackSchema>;

export const tenantIdSchema = z.string().regex(tenantIdPattern, 'must match ^[a-z0-9][a-z0-9-]{0,62}$');

/** How a tenant's helpdesk proves itself: an HMAC signature (strongest), a token header, or HTTP Basic. */
export const inboundAuthModes = ['hmac', 'token', 'basic'] as const;
export type InboundAuth = (typeof inboundAuthModes)[number];
export const inboundAuthSchema = z.enum(inboundAuthModes);

export type Tenant = Readonly<{
  id: string;
  name: string;
  inboundAuth: InboundAuth;
  /** The signing secret (hmac) or token (token, basic). */
  secret: string;
  /** The secret before the last rotation, still accepted until retired or expired. */
  previousSecret: Readonly<{ value: string; expiresAt: Date | undefined }> | undefined;
  writeback: WritebackTarget;
  /** Its own model, base URL, API key and prompt language for the enhance stage; absent: the global ones. */
  model: TenantModelSettings | undefined;
  createdAt: Date;
  updatedAt: Date;
}>;

export type PublicTenant = {
  id: string;
  name: string;
  inboundAuth: InboundAuth;
  previousSecretExpiresAt: string | null | undefined;
  writeback: { type: WritebackTarget['type'] };
  createdAt: string;
  updatedAt: string;
};

/** What may be shown of a tenant: no signing secret or token, no helpdesk credentials. */
export function publicTenant(tenant: Tenant): PublicTenant {
  return {
    id: tenant.id,
    name: tenant.name,
    inboundAuth: tenant.inboundAuth,
    // undefined: no previous secret; null: one, accepted until retired.
    previousSecretExpiresAt: tenant.previousSecret
      ? (tenant.previousSecret.expiresAt?.toISOString() ?? null)
      : undefined,
    writeback: { type: tenant.writeback.type },
    createdAt: tenant.createdAt.toISOString(),
    updatedAt: tenant.updatedAt.toISOString(),
  };
}

/** The secrets a request may be verified with right now: the current one, and the previous one during its overlap. */
export function acceptedSecrets(tenant: Tenant, now = Date.now()): string[] {
  const previous = tenant.previousSecret;
  return previous && (!previous.expiresAt || previous.expiresAt.getTime() > now)
    ? [tenant.secret, previous.value]
    : [tenant.secret];
}

export function newSecret(): string {
  return `whsec_${randomBytes(24).toString('hex')}`;
}

type RegistryClient = ReturnType<typeof createClient> | ReturnType<typeof createCluster>;

type TenantEntity = Entity & {
  name?: string;
  inboundAuth?: string;
  secret?: string;
  previousSecret?: string;
  previousSecretExpiresAt?: number;
  writeback?: string;
  model?: string;
  createdAt?: Date;
  updatedAt?: Date;
};

export type TenantChanges = {
  name?: string | undefined;
  inboundAuth?: InboundAuth | undefined;
  writeback?: WritebackTarget | undefined;
};

/**
 * Tenants live as redis-om HASH entities (plain Redis serves them), with a set of ids that
 * consumers watch to pick up new tenants without a restart. Secrets, tokens and write-back
 * credentials are sealed by a SecretBox before they reach Redis.
 */
export class TenantRegistry {
  private readonly cache: BoundedCache<Tenant | undefined>;

  private constructor(
    private readonly client: RegistryClient,
    private readonly repository: Repository<TenantEntity>,
    private readonly idsKey: string,
    private readonly box: SecretBox,
    options: { cacheMs: number; cacheEntries: number },
  ) {
    this.cache = new BoundedCache(options.cacheEntries, options.cacheMs);
  }

  static async connect(
    config: Pick<Config, 'redisUrl' | 'redisPrefix' | 'redisClusterNodes'> &
      Partial<Pick<Config, 'secretsKey' | 'secretsPreviousKeys'>>,
    options: { cacheMs?: number; cacheEntries?: number } = {},
  ): Promise<TenantRegistry> {
    const box = new SecretBox(config.secretsKey, config.secretsPreviousKeys ?? []);
    // Without an offline queue a lookup fails at once while Redis is down, and the webhook answers 503.
    const clientOptions = {
      disableOfflineQueue: true,
      socket: { connectTimeout: 5_000, reconnectStrategy: (retries: number) => Math.min(50 * 2 ** retries, 2_000) },
    };
    const client: RegistryClient = config.redisClusterNodes
      ? createCluster({
          rootNodes: config.redisClusterNodes.map(({ host, port }) => ({ url: `redis://${host}:${port}` })),
          defaults: clientOptions,
        })
      : createClient({ url: config.redisUrl, ...clientOptions });
    client.on('error', () => undefined);
    await client.connect();
    const keys = redisKeys(config.redisPrefix);
    const schema = new Schema<TenantEntity>(
      keys.tenantEntityPrefix,
      {
        name: { type: 'string' },
        inboundAuth: { type: 'string' },
        secret: { type: 'string' },
        previousSecret: { type: 'string' },
        previousSecretExpiresAt: { type: 'number' },
        writeback: { type: 'string' },
        model: { type: 'string' },
        createdAt: { type: 'date' },
        updatedAt: { type: 'date' },
      },
      { dataStructure: 'HASH' },
    );
    return new TenantRegistry(client, new Repository(schema, client as never), keys.tenantIds, box, {
      cacheMs: options.cacheMs ?? 1_000,
      cacheEntries: options.cacheEntries ?? 10_000,
    });
  }

  /** False when secrets are stored unencrypted (no SECRETS_ENCRYPTION_KEY). */
  get encryptsSecrets(): boolean {
    return this.box.encrypting;
  }

  /** Registers a tenant and returns it with its new secret; TENANT_EXISTS if the id is taken. */
  async create(input: {
    id: string;
    name?: string | undefined;
    inboundAuth?: InboundAuth | undefined;
    writeback?: WritebackTarget | undefined;
  }): Promise<Tenant> {
    const id = tenantIdSchema.parse(input.id);
    const now = new Date();
    const tenant: Tenant = {
      id,
      name: input.name ?? id,
      inboundAuth: input.inboundAuth ?? 'hmac',
      secret: newSecret(),
      previousSecret: undefined,
      writeback: writebackSchema.parse(input.writeback ?? { type: 'none' }),
      model: undefined,
      createdAt: now,
      updatedAt: now,
    };
    // The id set doubles as the lock: only the caller that adds the id writes the entity.
    if ((await this.client.sAdd(this.idsKey, id)) === 0)
      throw new StreamdeskError('TENANT_EXISTS', `Tenant "${id}" already exists`);
    try {
      await this.save(tenant);
    } catch (error) {
      await this.client.sRem(this.idsKey, id).catch(() => undefined);
      throw error;
    }
    return tenant;
  }

  /** The tenant, or undefined when there is none with that id. Cached (bounded in size and age) for the webhook path. */
  async get(id: string): Promise<Tenant | undefined> {
    const cached = this.cache.get(id);
    if (cached) return cached.value;
    const tenant = await this.read(id);
    this.cache.set(id, tenant);
    return tenant;
  }

  async list(): Promise<Tenant[]> {
    const ids = (await this.client.sMembers(this.idsKey)).sort();
    const tenants = await Promise.all(ids.map((id) => this.get(id)));
    return tenants.filter((tenant): tenant is Tenant => tenant !== undefined);
  }

  /** Changes name, inbound auth mode or write-back target; UNKNOWN_TENANT if there is no such tenant. */
  async update(id: string, changes: TenantChanges): Promise<Tenant> {
    const tenant = await this.require(id);
    return this.save({
      ...tenant,
      ...(changes.name !== undefined ? { name: changes.name } : {}),
      ...(changes.inboundAuth !== undefined ? { inboundAuth: changes.inboundAuth } : {}),
      ...(changes.writeback !== undefined ? { writeback: writebackSchema.parse(changes.writeback) } : {}),
      updatedAt: new Date(),
    });
  }

  /**
   * A new secret (or token) becomes current; the old one stays accepted for `overlapSeconds`
   * (undefined: until retired). A previous secret from an earlier rotation is dropped.
   */
  async rotateSecret(id: string, overlapSeconds?: number): Promise<Tenant> {
    const tenant = await this.require(id);
    const now = Date.now();
    return this.save({
      ...tenant,
      secret: newSecret(),
      previousSecret: {
        value: tenant.secret,
        expiresAt: overlapSeconds === undefined ? undefined : new Date(now + overlapSeconds * 1_000),
      },
      updatedAt: new Date(now),
    });
  }

  /** Ends the overlap: only the current secret is accepted from now on. Returns whether there was one to retire. */
  async retirePreviousSecret(id: string): Promise<boolean> {
    const tenant = await this.require(id);
    if (!tenant.previousSecret) return false;
    await this.save({ ...tenant, previousSecret: undefined, updatedAt: new Date() });
    return true;
  }

  /**
   * Replaces the helpdesk API key: the ServiceDesk Plus technician key, the Zoho OAuth refresh
   * token of a ServiceDesk Plus Cloud target, or the note webhook's signing secret.
   */
  async rotateHelpdeskKey(id: string, key: string): Promise<Tenant> {
    const tenant = await this.require(id);
    const target = tenant.writeback;
    if (target.type === 'none')
      throw new StreamdeskError('BAD_REQUEST', `Tenant "${id}" has no write-back target, so no helpdesk key to rotate`);
    const rotated =
      target.type === 'webhook'
        ? { ...target, secret: key }
        : target.auth
          ? { ...target, auth: { ...target.auth, refreshToken: key } }
          : { ...target, authToken: key };
    const writeback = writebackSchema.parse(rotated);
    return this.save({ ...tenant, writeback, updatedAt: new Date() });
  }

  /**
   * Changes the tenant's model settings from what is stored now (undefined: back to the global
   * ones); the API key is sealed with the other secrets.
   */
  async changeModelSettings(
    id: string,
    change: (current: TenantModelSettings | undefined) => TenantModelSettings | undefined,
  ): Promise<Tenant> {
    const tenant = await this.require(id);
    const settings = change(tenant.model);
    return this.save({
      ...tenant,
      model: settings === undefined ? undefined : tenantModelSettingsSchema.parse(settings),
      updatedAt: new Date(),
    });
  }

  /** Re-seals every tenant's secrets with the current key (after SECRETS_ENCRYPTION_KEY changed). */
  async reseal(): Promise<number> {
    let count = 0;
    for (const id of (await this.client.sMembers(this.idsKey)).sort()) {
      const tenant = await this.read(id);
      if (!tenant) continue;
      await this.save(tenant);
      count++;
    }
    return count;
  }

  /** Removes the registration (entity and id). The tenant's data is left to purgeTenant. */
  async remove(id: string): Promise<boolean> {
    const removed = (await this.client.sRem(this.idsKey, id)) > 0;
    await this.repository.remove(id);
    this.cache.delete(id);
    return removed;
  }

  /** How many lookups this process holds in its cache (bounded by `cacheEntries`). */
  get cachedLookups(): number {
    return this.cache.size;
  }

  /** Forgets what this process cached about a tenant (tests and single-process tools). */
  forget(id: string): void {
    this.cache.delete(id);
  }

  async close(): Promise<void> {
    await this.client.disconnect().catch(() => undefined);
  }

  private async require(id: string): Promise<Tenant> {
    const tenant = await this.read(tenantIdSchema.parse(id));
    if (!tenant) throw new StreamdeskError('UNKNOWN_TENANT', `Tenant "${id}" does not exist`);
    return tenant;
  }

  private async save(tenant: Tenant): Promise<Tenant> {
    const { id, previousSecret } = tenant;
    await this.repository.save(id, {
      name: tenant.name,
      inboundAuth: tenant.inboundAuth,
      secret: this.box.seal(tenant.secret, `${id}:secret`),
      ...(previousSecret ? { previousSecret: this.box.seal(previousSecret.value, `${id}:previousSecret`) } : {}),
      ...(previousSecret?.expiresAt ? { previousSecretExpiresAt: previousSecret.expiresAt.getTime() } : {}),
      writeback: this.box.seal(JSON.stringify(tenant.writeback), `${id}:writeback`),
      // Sealed whole, like the write-back target: the key with the server it is meant for.
      ...(tenant.model ? { model: this.box.seal(JSON.stringify(tenant.model), `${id}:model`) } : {}),
      createdAt: tenant.createdAt,
      updatedAt: tenant.updatedAt,
    });
    this.cache.delete(id);
    return tenant;
  }

  private async read(id: string): Promise<Tenant | undefined> {
    const entity = await this.repository.fetch(id);
    if (!entity.secret) return undefined;
    const writeback = writebackSchema.safeParse(
      JSON.parse(this.box.open(entity.writeback ?? '{"type":"none"}', `${id}:writeback`)),
    );
    const model = entity.model
      ? tenantModelSettingsSchema.safeParse(JSON.parse(this.box.open(entity.model, `${id}:model`)))
      : undefined;
    const inboundAuth = inboundAuthSchema.safeParse(entity.inboundAuth ?? 'hmac');
    const createdAt = entity.createdAt instanceof Date ? entity.createdAt : new Date(0);
    return {
      id,
      name: entity.name ?? id,
      inboundAuth: inboundAuth.success ? inboundAuth.data : 'hmac',
      secret: this.box.open(entity.secret, `${id}:secret`),
      previousSecret: entity.previousSecret
        ? {
            value: this.box.open(entity.previousSecret, `${id}:previousSecret`),
            expiresAt:
              typeof entity.previousSecretExpiresAt === 'number' ? new Date(entity.previousSecretExpiresAt) : undefined,
          }
        : undefined,
      writeback: writeback.success ? writeback.data : { type: 'none' },
      model: model?.success ? model.data : undefined,
      createdAt,
      updatedAt: entity.updatedAt instanceof Date ? entity.updatedAt : createdAt,
    };
  }
}
