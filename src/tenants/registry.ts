import { randomBytes } from 'node:crypto';
import { createClient, createCluster } from 'redis';
import { EntityId, Repository, Schema, type Entity } from 'redis-om';
import { z } from 'zod';
import type { Config } from '../config/config.js';
import { StreamdeskError } from '../errors.js';
import { redisKeys, tenantIdPattern } from '../streams/keys.js';

export const writebackSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('none') }),
  z.object({ type: z.literal('servicedesk-plus'), baseUrl: z.url({ protocol: /^https?$/ }), authToken: z.string().min(1) }),
  z.object({ type: z.literal('webhook'), url: z.url({ protocol: /^https?$/ }), secret: z.string().min(16) }),
]);
export type WritebackTarget = z.infer<typeof writebackSchema>;

export const tenantIdSchema = z.string().regex(tenantIdPattern, 'must match ^[a-z0-9][a-z0-9-]{0,62}$');

export type Tenant = Readonly<{
  id: string;
  name: string;
  secret: string;
  writeback: WritebackTarget;
  createdAt: Date;
}>;

/** What may be shown of a tenant: no signing secret, no helpdesk credentials. */
export function publicTenant(tenant: Tenant): { id: string; name: string; writeback: { type: WritebackTarget['type'] }; createdAt: string } {
  return { id: tenant.id, name: tenant.name, writeback: { type: tenant.writeback.type }, createdAt: tenant.createdAt.toISOString() };
}

type RegistryClient = ReturnType<typeof createClient> | ReturnType<typeof createCluster>;

type TenantEntity = Entity & { name?: string; secret?: string; writeback?: string; createdAt?: Date };

/**
 * Tenants live as redis-om HASH entities (plain Redis serves them), with a set of ids that
 * consumers watch to pick up new tenants without a restart.
 */
export class TenantRegistry {
  private readonly cache = new Map<string, { tenant: Tenant | undefined; until: number }>();

  private constructor(
    private readonly client: RegistryClient,
    private readonly repository: Repository<TenantEntity>,
    private readonly idsKey: string,
    private readonly cacheMs: number,
  ) {}

  static async connect(config: Pick<Config, 'redisUrl' | 'redisPrefix' | 'redisClusterNodes'>, options: { cacheMs?: number } = {}): Promise<TenantRegistry> {
    // Without an offline queue a lookup fails at once while Redis is down, and the webhook answers 503.
    const clientOptions = { disableOfflineQueue: true, socket: { connectTimeout: 5_000, reconnectStrategy: (retries: number) => Math.min(50 * 2 ** retries, 2_000) } };
    const client: RegistryClient = config.redisClusterNodes
      ? createCluster({ rootNodes: config.redisClusterNodes.map(({ host, port }) => ({ url: `redis://${host}:${port}` })), defaults: clientOptions })
      : createClient({ url: config.redisUrl, ...clientOptions });
    client.on('error', () => undefined);
    await client.connect();
    const keys = redisKeys(config.redisPrefix);
    const schema = new Schema<TenantEntity>(
      keys.tenantEntityPrefix,
      { name: { type: 'string' }, secret: { type: 'string' }, writeback: { type: 'string' }, createdAt: { type: 'date' } },
      { dataStructure: 'HASH' },
    );
    return new TenantRegistry(client, new Repository(schema, client as never), keys.tenantIds, options.cacheMs ?? 1_000);
  }

  /** Registers a tenant and returns it with its new signing secret; TENANT_EXISTS if the id is taken. */
  async create(input: { id: string; name?: string | undefined; writeback?: WritebackTarget | undefined }): Promise<Tenant> {
    const id = tenantIdSchema.parse(input.id);
    const tenant: Tenant = {
      id,
      name: input.name ?? id,
      secret: `whsec_${randomBytes(24).toString('hex')}`,
      writeback: writebackSchema.parse(input.writeback ?? { type: 'none' }),
      createdAt: new Date(),
    };
    // The id set doubles as the lock: only the caller that adds the id writes the entity.
    if ((await this.client.sAdd(this.idsKey, id)) === 0) throw new StreamdeskError('TENANT_EXISTS', `Tenant "${id}" already exists`);
    try {
      await this.repository.save(id, { name: tenant.name, secret: tenant.secret, writeback: JSON.stringify(tenant.writeback), createdAt: tenant.createdAt });
    } catch (error) {
      await this.client.sRem(this.idsKey, id).catch(() => undefined);
      throw error;
    }
    this.cache.delete(id);
    return tenant;
  }

  /** The tenant, or undefined when there is none with that id. Briefly cached for the webhook path. */
  async get(id: string): Promise<Tenant | undefined> {
    const cached = this.cache.get(id);
    if (cached && cached.until > Date.now()) return cached.tenant;
    const entity = await this.repository.fetch(id);
    const tenant = toTenant(id, entity);
    this.cache.set(id, { tenant, until: Date.now() + this.cacheMs });
    return tenant;
  }

  async list(): Promise<Tenant[]> {
    const ids = (await this.client.sMembers(this.idsKey)).sort();
    const tenants = await Promise.all(ids.map((id) => this.get(id)));
    return tenants.filter((tenant): tenant is Tenant => tenant !== undefined);
  }

  async close(): Promise<void> {
    await this.client.disconnect().catch(() => undefined);
  }
}

function toTenant(id: string, entity: TenantEntity): Tenant | undefined {
  if (!entity.secret) return undefined;
  const writeback = writebackSchema.safeParse(JSON.parse(entity.writeback ?? '{"type":"none"}'));
  return {
    id: String(entity[EntityId] ?? id),
    name: entity.name ?? id,
    secret: entity.secret,
    writeback: writeback.success ? writeback.data : { type: 'none' },
    createdAt: entity.createdAt instanceof Date ? entity.createdAt : new Date(0),
  };
}
