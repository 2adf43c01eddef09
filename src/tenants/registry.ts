import { createClient, createCluster } from 'redis';
import { Repository, Schema } from 'redis-om';
import type { Config } from '../config/config.js';
import { StreamdeskError } from '../errors.js';
import { redisKeys } from '../streams/keys.js';
import { BoundedCache } from './cache.js';
import { tenantModelSettingsSchema, type TenantModelSettings } from './model-settings.js';
import { fromEntity, tenantEntityFields, toEntity, type TenantEntity } from './record.js';
import { SecretBox } from './secret-box.js';
import {
  newSecret,
  tenantIdSchema,
  writebackSchema,
  type InboundAuth,
  type Tenant,
  type WritebackTarget,
} from './tenant.js';

export {
  acceptedSecrets,
  inboundAuthModes,
  inboundAuthSchema,
  newSecret,
  publicTenant,
  tenantIdSchema,
  writebackSchema,
  zohoOAuthSchema,
  type InboundAuth,
  type PublicTenant,
  type Tenant,
  type WritebackTarget,
  type ZohoOAuth,
} from './tenant.js';

type RegistryClient = ReturnType<typeof createClient> | ReturnType<typeof createCluster>;

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
  /** Reads in flight, by tenant id: lookups made meanwhile share them. */
  private readonly reading = new Map<string, Promise<Tenant | undefined>>();

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
    const schema = new Schema<TenantEntity>(keys.tenantEntityPrefix, tenantEntityFields, { dataStructure: 'HASH' });
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
    // When the cached entry expires, a batch's handlers and the webhooks arriving together would
    // each read and decrypt the same entity: they share one read. A change made meanwhile (save,
    // remove, forget) drops the read from the map, so it is neither joined nor cached after that.
    const pending = this.reading.get(id);
    if (pending) return pending;
    const reading: Promise<Tenant | undefined> = this.read(id)
      .then((tenant) => {
        if (this.reading.get(id) === reading) this.cache.set(id, tenant);
        return tenant;
      })
      .finally(() => {
        if (this.reading.get(id) === reading) this.reading.delete(id);
      });
    this.reading.set(id, reading);
    return reading;
  }

  private invalidate(id: string): void {
    this.cache.delete(id);
    this.reading.delete(id);
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
    this.invalidate(id);
    return removed;
  }

  /** How many lookups this process holds in its cache (bounded by `cacheEntries`). */
  get cachedLookups(): number {
    return this.cache.size;
  }

  /** Forgets what this process cached about a tenant (tests and single-process tools). */
  forget(id: string): void {
    this.invalidate(id);
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
    await this.repository.save(tenant.id, toEntity(tenant, this.box));
    this.invalidate(tenant.id);
    return tenant;
  }

  private async read(id: string): Promise<Tenant | undefined> {
    return fromEntity(id, await this.repository.fetch(id), this.box);
  }
}
