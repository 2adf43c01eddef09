import { trace } from '@opentelemetry/api';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { badRequest } from '../admin/input.js';
import { StreamdeskError } from '../errors.js';
import { ticketSchema } from '../events.js';
import { assertStorableJson } from '../storable.js';
import { tenantIdPattern } from '../streams/keys.js';
import { Attr } from '../telemetry/attributes.js';
import { lookUpTenant, ticketIngest, type IngestDeps } from './accept.js';
import { authenticateWebhook } from './inbound-auth.js';

export const webhookBodySchema = z.object({
  event: z.enum(['ticket.created', 'ticket.updated']),
  // `updatedAt`, the helpdesk's modification time, tells two updates of a ticket apart; it is not stored.
  ticket: ticketSchema.extend({ updatedAt: z.union([z.string().trim().min(1).max(64), z.number()]).optional() }),
});

export type WebhookDeps = IngestDeps;

// Bytes that are not UTF-8 are refused rather than silently replaced: what is stored is what was signed.
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The tenant id of a webhook URL, checked before anything else. */
export function webhookTenantId(tenantId: string): string {
  if (!tenantIdPattern.test(tenantId))
    throw new StreamdeskError('INVALID_TENANT_ID', 'The tenant id must match ^[a-z0-9][a-z0-9-]{0,62}$');
  trace.getActiveSpan()?.setAttribute(Attr.tenantId, tenantId);
  return tenantId;
}

/** POST /v1/webhooks/:tenant/tickets — authenticates, validates and appends a ticket.received event. */
export async function webhookRoutes(app: FastifyInstance, deps: WebhookDeps): Promise<void> {
  const { config, registry } = deps;
  const accept = ticketIngest(deps);

  // The signature covers the raw bytes, so the body is kept as a Buffer and parsed here.
  app.addContentTypeParser(
    ['application/json', 'application/*+json'],
    { parseAs: 'buffer', bodyLimit: 256 * 1024 },
    (_request, body, done) => done(null, body),
  );

  app.post<{ Params: { tenant: string } }>('/v1/webhooks/:tenant/tickets', async (request, reply) => {
    const tenantId = webhookTenantId(request.params.tenant);
    const rawBody = request.body;
    if (!Buffer.isBuffer(rawBody))
      throw new StreamdeskError('UNSUPPORTED_MEDIA_TYPE', 'The request body must be application/json');
    const tenant = await lookUpTenant(registry, tenantId);
    const auth = authenticateWebhook({
      tenantId,
      tenant,
      headers: request.headers,
      rawBody,
      toleranceSeconds: config.webhookToleranceSeconds,
    });

    let text: string;
    let json: unknown;
    try {
      text = utf8.decode(rawBody);
      json = JSON.parse(text);
    } catch {
      throw new StreamdeskError('INVALID_JSON', 'The request body is not valid UTF-8 JSON');
    }
    assertStorableJson(text, json, 'body');
    const parsed = webhookBodySchema.safeParse(json);
    if (!parsed.success) throw badRequest(parsed.error);
    const { updatedAt, ...ticket } = parsed.data.ticket;
    return accept(request, reply, {
      tenantId,
      auth,
      rawBody,
      action: parsed.data.event,
      ticket,
      modifiedAt: updatedAt === undefined ? undefined : String(updatedAt),
    });
  });
}
