import type { FastifyInstance } from 'fastify';
import { parseInput } from '../admin/input.js';
import { listTickets, ticketListQuerySchema } from '../admin/tickets.js';
import type { Db } from '../projections/db.js';

/**
 * `GET /v1/admin/tenants/:tenant/tickets?status=&q=&from=&to=&limit=&cursor=`: a tenant's tickets,
 * newest first, one page at a time (`nextCursor` asks for the next). Registered in the admin scope.
 */
export async function adminTicketRoutes(
  app: FastifyInstance,
  deps: { db: Db; knownTenant(tenant: string): Promise<string> },
): Promise<void> {
  app.get<{ Params: { tenant: string }; Querystring: Record<string, unknown> }>(
    '/v1/admin/tenants/:tenant/tickets',
    async (request) => {
      const tenant = await deps.knownTenant(request.params.tenant);
      return listTickets(deps.db, tenant, parseInput(ticketListQuerySchema, request.query));
    },
  );
}
