import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import {
  contextKinds,
  deleteContextItem,
  importContextData,
  importFormats,
  listContextData,
  saveContextItem,
  type ContextKind,
} from '../admin/context-data.js';
import { parseInput } from '../admin/input.js';
import { StreamdeskError } from '../errors.js';
import type { Db } from '../projections/db.js';

/** URL segment of each context kind. */
const segment: Record<ContextKind, string> = { assets: 'assets', kb: 'kb-articles' };
const label: Record<ContextKind, string> = { assets: 'Asset', kb: 'Knowledge-base article' };

const listQuery = z.object({
  q: z.string().trim().max(200).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  offset: z.coerce.number().int().min(0).default(0),
});
const importQuery = z.object({
  format: z.enum(importFormats).optional(),
  dryRun: z
    .enum(['true', 'false'])
    .optional()
    .transform((value) => value === 'true'),
});
const importBodyLimit = 10 * 1024 * 1024;

/**
 * Assets and knowledge-base articles per tenant: list (`?q=&limit=&offset=`), import a CSV or JSON
 * file (`POST …/import`, body `text/csv` or `application/json`, `?dryRun=true` only validates),
 * replace one (`PUT …/:id`), delete one (`DELETE …/:id`). Registered in the admin scope.
 */
export async function adminContextRoutes(
  app: FastifyInstance,
  deps: { db: Db; knownTenant(tenant: string): Promise<string> },
): Promise<void> {
  const { db, knownTenant } = deps;
  // An import file arrives as it is; CSV is text, JSON is kept raw so rows are validated here, one by one.
  app.addContentTypeParser(
    ['text/csv', 'text/plain'],
    { parseAs: 'string', bodyLimit: importBodyLimit },
    (_request, body, done) => done(null, body),
  );

  for (const kind of contextKinds) {
    const base = `/v1/admin/tenants/:tenant/${segment[kind]}`;
    app.get<{ Params: { tenant: string }; Querystring: Record<string, unknown> }>(base, async (request) => {
      const tenant = await knownTenant(request.params.tenant);
      return listContextData(db, kind, tenant, parseInput(listQuery, request.query));
    });

    app.post<{ Params: { tenant: string }; Querystring: Record<string, unknown> }>(
      `${base}/import`,
      { bodyLimit: importBodyLimit },
      async (request) => {
        const tenant = await knownTenant(request.params.tenant);
        const query = parseInput(importQuery, request.query);
        const isText = typeof request.body === 'string';
        const format = query.format ?? (isText ? 'csv' : 'json');
        if (format === 'csv' && !isText) throw new StreamdeskError('BAD_REQUEST', 'A CSV import is sent as text/csv');
        const content = isText ? (request.body as string) : JSON.stringify(request.body ?? null);
        return importContextData(db, kind, tenant, { format, content, dryRun: query.dryRun });
      },
    );

    app.put<{ Params: { tenant: string; id: string } }>(`${base}/:id`, async (request, reply) => {
      const tenant = await knownTenant(request.params.tenant);
      const body = typeof request.body === 'object' && request.body !== null ? request.body : {};
      const saved = await saveContextItem(db, kind, tenant, { ...body, id: request.params.id });
      return reply.status(saved.created ? 201 : 200).send(saved.item);
    });

    app.delete<{ Params: { tenant: string; id: string } }>(`${base}/:id`, async (request, reply) => {
      const tenant = await knownTenant(request.params.tenant);
      if (!(await deleteContextItem(db, kind, tenant, request.params.id))) {
        throw new StreamdeskError(
          'NOT_FOUND',
          `${label[kind]} "${request.params.id}" of tenant "${tenant}" does not exist`,
        );
      }
      return reply.status(204).send();
    });
  }
}
