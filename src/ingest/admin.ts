import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { parseInput } from '../admin/input.js';
import { checkNewWritebackTarget, type TargetPolicy } from '../consumers/writeback/target-policy.js';
import { consoleAdminRoutes } from '../console/admin-routes.js';
import type { OverviewSource } from '../console/overview.js';
import type { ConsoleSessions } from '../console/session.js';
import { StreamdeskError } from '../errors.js';
import { storableString } from '../storable.js';
import { llmAdminRoutes } from '../llm/admin.js';
import type { Db } from '../projections/db.js';
import { findTicket } from '../projections/queries.js';
import { listDeadLetters, redriveDeadLetters } from '../streams/dlq.js';
import type { RedisKeys } from '../streams/keys.js';
import type { RedisClient } from '../streams/redis.js';
import { tenantStatus } from '../streams/status.js';
import { deleteTenant } from '../tenants/purge.js';
import {
  inboundAuthSchema,
  publicTenant,
  tenantIdSchema,
  writebackSchema,
  type TenantRegistry,
} from '../tenants/registry.js';
import { adminContextRoutes } from './admin-context.js';
import { adminTicketRoutes } from './admin-tickets.js';

export type AdminDeps = {
  adminToken: string;
  redis: RedisClient;
  keys: RedisKeys;
  registry: TenantRegistry;
  db: Db;
  targetPolicy: TargetPolicy;
  /** The console: its sessions authorise admin calls too (with a CSRF token for changes). */
  console?: { sessions: ConsoleSessions; overview: OverviewSource; jaegerUiUrl: string | undefined };
};

const tenantName = storableString().min(1).max(200);
const createTenantBody = z.object({
  id: tenantIdSchema,
  name: tenantName.optional(),
  inboundAuth: inboundAuthSchema.optional(),
  writeback: writebackSchema.optional(),
});
const updateTenantBody = z
  .object({
    name: tenantName.optional(),
    inboundAuth: inboundAuthSchema.optional(),
    writeback: writebackSchema.optional(),
  })
  .refine((body) => Object.keys(body).length > 0, 'give at least one of name, inboundAuth, writeback');
const rotateBody = z
  .object({
    overlapSeconds: z
      .number()
      .int()
      .min(0)
      .max(90 * 86_400)
      .optional(),
  })
  .default({});
const helpdeskKeyBody = z.object({ key: z.string().min(1).max(4_096) });
const deleteQuery = z.object({ purge: z.enum(['true', 'false']).optional(), confirm: z.string().optional() });
const redriveBody = z
  .object({
    ids: z
      .array(z.string().regex(/^\d+-\d+$/, 'must be a stream entry id'))
      .max(10_000)
      .optional(),
  })
  .default({});

/** Admin inputs are request parts: a failure names the body when the whole body is wrong. */
const parse = <T>(schema: z.ZodType<T>, value: unknown): T => parseInput(schema, value, 'body');

type KnownTenant = (tenant: string) => Promise<string>;

/** Create, list, show, change and delete tenants. */
function tenantRoutes(app: FastifyInstance, deps: AdminDeps, knownTenant: KnownTenant): void {
  const { redis, keys, registry, db } = deps;
  app.post('/v1/admin/tenants', async (request, reply) => {
    const body = parse(createTenantBody, request.body);
    if (body.writeback) await checkNewWritebackTarget(body.writeback, deps.targetPolicy);
    const tenant = await registry.create(body);
    return reply.status(201).send({ id: tenant.id, secret: tenant.secret });
  });

  app.get('/v1/admin/tenants', async () => ({ tenants: (await registry.list()).map(publicTenant) }));

  app.get<{ Params: { tenant: string } }>('/v1/admin/tenants/:tenant', async (request) => {
    parse(tenantIdSchema, request.params.tenant);
    const tenant = await registry.get(request.params.tenant);
    if (!tenant) throw new StreamdeskError('UNKNOWN_TENANT', `Tenant "${request.params.tenant}" does not exist`);
    return publicTenant(tenant);
  });

  app.patch<{ Params: { tenant: string } }>('/v1/admin/tenants/:tenant', async (request) => {
    const tenant = await knownTenant(request.params.tenant);
    const changes = parse(updateTenantBody, request.body);
    if (changes.writeback) await checkNewWritebackTarget(changes.writeback, deps.targetPolicy);
    return publicTenant(await registry.update(tenant, changes));
  });

  // Deleting is confirmed by repeating the tenant id: ?confirm=<id>; ?purge=true also removes its data.
  app.delete<{ Params: { tenant: string }; Querystring: Record<string, string> }>(
    '/v1/admin/tenants/:tenant',
    async (request) => {
      const tenant = await knownTenant(request.params.tenant);
      const query = parse(deleteQuery, request.query);
      if (query.confirm !== tenant) {
        throw new StreamdeskError('BAD_REQUEST', 'Deleting a tenant needs ?confirm=<tenant id>', [
          { path: 'confirm', message: 'must repeat the tenant id' },
        ]);
      }
      return deleteTenant({ registry, redis, keys, db }, tenant, { purge: query.purge === 'true' });
    },
  );
}

/** A tenant's credentials: rotate and retire its secret, replace its helpdesk key. */
function credentialRoutes(app: FastifyInstance, { registry }: AdminDeps, knownTenant: KnownTenant): void {
  // The new secret (or token) is shown only in this answer; the old one stays accepted during the overlap.
  app.post<{ Params: { tenant: string } }>('/v1/admin/tenants/:tenant/secret/rotate', async (request) => {
    const tenant = await knownTenant(request.params.tenant);
    const rotated = await registry.rotateSecret(tenant, parse(rotateBody, request.body ?? {}).overlapSeconds);
    return {
      id: rotated.id,
      secret: rotated.secret,
      inboundAuth: rotated.inboundAuth,
      previousSecretExpiresAt: publicTenant(rotated).previousSecretExpiresAt,
    };
  });

  app.post<{ Params: { tenant: string } }>('/v1/admin/tenants/:tenant/secret/retire', async (request) => {
    const tenant = await knownTenant(request.params.tenant);
    return { id: tenant, retired: await registry.retirePreviousSecret(tenant) };
  });

  app.post<{ Params: { tenant: string } }>('/v1/admin/tenants/:tenant/helpdesk-key', async (request) => {
    const tenant = await knownTenant(request.params.tenant);
    return publicTenant(await registry.rotateHelpdeskKey(tenant, parse(helpdeskKeyBody, request.body).key));
  });
}

/** What the pipeline holds: status, a ticket's events, dead letters and their redrive. */
function pipelineRoutes(app: FastifyInstance, deps: AdminDeps, knownTenant: KnownTenant): void {
  const { redis, keys, registry, db } = deps;
  app.get('/v1/admin/status', async () => {
    const tenants = await registry.list();
    return { tenants: await Promise.all(tenants.map((tenant) => tenantStatus(redis, keys, tenant.id))) };
  });

  app.get<{ Params: { tenant: string; ticketId: string } }>(
    '/v1/admin/tenants/:tenant/tickets/:ticketId',
    async (request) => {
      const tenant = await knownTenant(request.params.tenant);
      const found = await findTicket(db, tenant, request.params.ticketId);
      if (!found)
        throw new StreamdeskError(
          'NOT_FOUND',
          `Ticket "${request.params.ticketId}" of tenant "${tenant}" is not known`,
        );
      return found;
    },
  );

  app.get<{ Params: { tenant: string } }>('/v1/admin/tenants/:tenant/dlq', async (request) => {
    const tenant = await knownTenant(request.params.tenant);
    return { deadLetters: await listDeadLetters(redis, keys, tenant, 1_000) };
  });

  app.post<{ Params: { tenant: string } }>('/v1/admin/tenants/:tenant/dlq/redrive', async (request) => {
    const tenant = await knownTenant(request.params.tenant);
    const { ids } = parse(redriveBody, request.body ?? {});
    return redriveDeadLetters(redis, keys, tenant, ids);
  });
}

/** The admin API, registered only when ADMIN_TOKEN is configured. */
export async function adminRoutes(app: FastifyInstance, deps: AdminDeps): Promise<void> {
  const { registry, db } = deps;
  const expected = Buffer.from(`Bearer ${deps.adminToken}`);

  app.addHook('onRequest', async (request) => {
    if (!request.headers.authorization && deps.console?.sessions.authorises(request)) return;
    const given = Buffer.from(request.headers.authorization ?? '');
    if (given.length !== expected.length || !timingSafeEqual(given, expected))
      throw new StreamdeskError('UNAUTHORIZED');
  });

  const knownTenant = async (tenant: string) => {
    parse(tenantIdSchema, tenant);
    if (!(await registry.get(tenant))) throw new StreamdeskError('UNKNOWN_TENANT', `Tenant "${tenant}" does not exist`);
    return tenant;
  };

  tenantRoutes(app, deps, knownTenant);
  credentialRoutes(app, deps, knownTenant);
  pipelineRoutes(app, deps, knownTenant);
  await adminTicketRoutes(app, { db, knownTenant });
  // Its own scope: the CSV import's text parser must not make other admin routes take text bodies.
  await app.register(async (scope) => adminContextRoutes(scope, { db, knownTenant }));
  if (deps.console) await consoleAdminRoutes(app, deps.console);
  await llmAdminRoutes(app, deps);
}
