import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { StreamdeskError } from '../errors.js';
import { llmAdminRoutes } from '../llm/admin.js';
import type { Db } from '../projections/db.js';
import { findTicket } from '../projections/queries.js';
import { listDeadLetters, redriveDeadLetters } from '../streams/dlq.js';
import type { RedisKeys } from '../streams/keys.js';
import type { RedisClient } from '../streams/redis.js';
import { tenantStatus } from '../streams/status.js';
import { publicTenant, tenantIdSchema, writebackSchema, type TenantRegistry } from '../tenants/registry.js';

export type AdminDeps = { adminToken: string; redis: RedisClient; keys: RedisKeys; registry: TenantRegistry; db: Db };

const createTenantBody = z.object({ id: tenantIdSchema, name: z.string().min(1).max(200).optional(), writeback: writebackSchema.optional() });
const redriveBody = z.object({ ids: z.array(z.string().regex(/^\d+-\d+$/, 'must be a stream entry id')).max(10_000).optional() }).default({});

function parse<T>(schema: z.ZodType<T>, value: unknown): T {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const details = parsed.error.issues.map((issue) => ({ path: issue.path.join('.'), message: issue.message }));
  throw new StreamdeskError('BAD_REQUEST', details.map((d) => `${d.path || 'body'}: ${d.message}`).join('; '), details);
}

/** The admin API, registered only when ADMIN_TOKEN is configured. */
export async function adminRoutes(app: FastifyInstance, deps: AdminDeps): Promise<void> {
  const { redis, keys, registry, db } = deps;
  const expected = Buffer.from(`Bearer ${deps.adminToken}`);

  app.addHook('onRequest', async (request) => {
    const given = Buffer.from(request.headers.authorization ?? '');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw new StreamdeskError('UNAUTHORIZED');
  });

  const knownTenant = async (tenant: string) => {
    parse(tenantIdSchema, tenant);
    if (!(await registry.get(tenant))) throw new StreamdeskError('UNKNOWN_TENANT', `Tenant "${tenant}" does not exist`);
    return tenant;
  };

  app.post('/v1/admin/tenants', async (request, reply) => {
    const body = parse(createTenantBody, request.body);
    const tenant = await registry.create(body);
    return reply.status(201).send({ id: tenant.id, secret: tenant.secret });
  });

  app.get('/v1/admin/tenants', async () => ({ tenants: (await registry.list()).map(publicTenant) }));

  app.get('/v1/admin/status', async () => {
    const tenants = await registry.list();
    return { tenants: await Promise.all(tenants.map((tenant) => tenantStatus(redis, keys, tenant.id))) };
  });

  app.get<{ Params: { tenant: string; ticketId: string } }>('/v1/admin/tenants/:tenant/tickets/:ticketId', async (request) => {
    const tenant = await knownTenant(request.params.tenant);
    const found = await findTicket(db, tenant, request.params.ticketId);
    if (!found) throw new StreamdeskError('NOT_FOUND', `Ticket "${request.params.ticketId}" of tenant "${tenant}" is not known`);
    return found;
  });

  app.get<{ Params: { tenant: string } }>('/v1/admin/tenants/:tenant/dlq', async (request) => {
    const tenant = await knownTenant(request.params.tenant);
    return { deadLetters: await listDeadLetters(redis, keys, tenant, 1_000) };
  });

  app.post<{ Params: { tenant: string } }>('/v1/admin/tenants/:tenant/dlq/redrive', async (request) => {
    const tenant = await knownTenant(request.params.tenant);
    const { ids } = parse(redriveBody, request.body ?? {});
    return redriveDeadLetters(redis, keys, tenant, ids);
  });

  await llmAdminRoutes(app, deps);
}
