import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { parseInput } from '../admin/input.js';
import { StreamdeskError } from '../errors.js';
import type { Db } from '../projections/db.js';
import type { RedisKeys } from '../streams/keys.js';
import type { RedisClient } from '../streams/redis.js';
import { applyModelChange, modelSettingsChangeSchema, publicModelSettings } from '../tenants/model-settings.js';
import { tenantIdSchema, type TenantRegistry } from '../tenants/registry.js';
import { Budgets, budgetSettingsSchema } from './budgets.js';
import { sinceSchema, usageReport } from './usage.js';

export type LlmAdminDeps = { redis: RedisClient; keys: RedisKeys; registry: TenantRegistry; db: Db };

// JSON bodies carry numbers; the schema also takes the strings the CLI and the Redis hash hold.
const budgetBody = budgetSettingsSchema;
const usageQuery = z.object({ tenant: tenantIdSchema.optional(), since: sinceSchema }).strict();

/** Admin inputs are request parts: a failure names the body when the whole body is wrong. */
const parse = <T>(schema: z.ZodType<T>, value: unknown): T => parseInput(schema, value, 'body');

/** Usage and budget routes of the admin API; registered inside it, behind its token check. */
export async function llmAdminRoutes(app: FastifyInstance, deps: LlmAdminDeps): Promise<void> {
  const budgets = new Budgets(deps.redis, deps.keys);
  const knownTenant = async (tenant: string) => {
    parse(tenantIdSchema, tenant);
    if (!(await deps.registry.get(tenant)))
      throw new StreamdeskError('UNKNOWN_TENANT', `Tenant "${tenant}" does not exist`);
    return tenant;
  };

  app.get('/v1/admin/usage', async (request) => {
    const query = parse(usageQuery, request.query ?? {});
    if (query.tenant) await knownTenant(query.tenant);
    return {
      since: query.since.toISOString(),
      usage: await usageReport(deps.db, { tenant: query.tenant, since: query.since }),
    };
  });

  app.get<{ Params: { tenant: string } }>('/v1/admin/tenants/:tenant/budget', async (request) => {
    const tenant = await knownTenant(request.params.tenant);
    return { tenant, ...(await budgets.status(tenant)) };
  });

  app.put<{ Params: { tenant: string } }>('/v1/admin/tenants/:tenant/budget', async (request) => {
    const tenant = await knownTenant(request.params.tenant);
    await budgets.set(tenant, parse(budgetBody, request.body ?? {}));
    return { tenant, ...(await budgets.status(tenant)) };
  });

  app.delete<{ Params: { tenant: string } }>('/v1/admin/tenants/:tenant/budget', async (request, reply) => {
    const tenant = await knownTenant(request.params.tenant);
    await budgets.clear(tenant);
    return reply.status(204).send();
  });

  // The tenant's own model settings; the API key is never shown, only whether one is set.
  app.get<{ Params: { tenant: string } }>('/v1/admin/tenants/:tenant/model', async (request) => {
    const tenant = await knownTenant(request.params.tenant);
    return { tenant, ...publicModelSettings((await deps.registry.get(tenant))?.model) };
  });

  // Fields given replace the stored ones, null removes one; sending a new apiKey rotates it.
  app.put<{ Params: { tenant: string } }>('/v1/admin/tenants/:tenant/model', async (request) => {
    const tenant = await knownTenant(request.params.tenant);
    const change = parse(modelSettingsChangeSchema, request.body ?? {});
    const updated = await deps.registry.changeModelSettings(tenant, (current) => applyModelChange(current, change));
    return { tenant, ...publicModelSettings(updated.model) };
  });

  app.delete<{ Params: { tenant: string } }>('/v1/admin/tenants/:tenant/model', async (request, reply) => {
    const tenant = await knownTenant(request.params.tenant);
    await deps.registry.changeModelSettings(tenant, () => undefined);
    return reply.status(204).send();
  });
}
