import { createHash } from 'node:crypto';
import { SpanKind, trace } from '@opentelemetry/api';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Config } from '../config/config.js';
import { StreamdeskError, toStreamdeskError } from '../errors.js';
import { currentVersion, encodeEvent, ticketSchema, type TicketEventOf } from '../events.js';
import { assertStorable } from '../storable.js';
import { uuidv7 } from '../streams/ids.js';
import { tenantIdPattern, type RedisKeys } from '../streams/keys.js';
import type { RedisClient } from '../streams/redis.js';
import { backlogOf, tenantStatus } from '../streams/status.js';
import type { TenantRegistry } from '../tenants/registry.js';
import { Attr } from '../telemetry/attributes.js';
import { currentTraceparent } from '../telemetry/traceparent.js';
import { producerAttributes, sendSpanName, withSpan } from '../telemetry/tracing.js';
import { verifyWebhookSignature } from './signature.js';

export const webhookBodySchema = z.object({
  event: z.enum(['ticket.created', 'ticket.updated']),
  ticket: ticketSchema,
});

// Bytes that are not UTF-8 are refused rather than silently replaced: what is stored is what was signed.
const utf8 = new TextDecoder('utf-8', { fatal: true });

const deliveryIdPattern = /^[A-Za-z0-9._:-]{1,200}$/;

export type WebhookDeps = {
  config: Config;
  redis: RedisClient;
  keys: RedisKeys;
  registry: TenantRegistry;
  onAccepted?: (tenant: string, duplicate: boolean) => void;
};

function header(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** POST /v1/webhooks/:tenant/tickets — verifies, validates and appends a ticket.received event. */
export async function webhookRoutes(app: FastifyInstance, deps: WebhookDeps): Promise<void> {
  const { config, redis, keys, registry } = deps;
  const backlog = new Map<string, { value: number; until: number }>();

  async function backlogOfTenant(tenant: string): Promise<number> {
    const cached = backlog.get(tenant);
    if (cached && cached.until > Date.now()) return cached.value;
    const value = backlogOf(await tenantStatus(redis, keys, tenant));
    backlog.set(tenant, { value, until: Date.now() + 1_000 });
    return value;
  }

  // The signature covers the raw bytes, so the body is kept as a Buffer and parsed here.
  app.addContentTypeParser(['application/json', 'application/*+json'], { parseAs: 'buffer', bodyLimit: 256 * 1024 }, (_request, body, done) => done(null, body));

  app.post<{ Params: { tenant: string } }>('/v1/webhooks/:tenant/tickets', async (request, reply) => {
    const tenantId = request.params.tenant;
    if (!tenantIdPattern.test(tenantId)) throw new StreamdeskError('INVALID_TENANT_ID', 'The tenant id must match ^[a-z0-9][a-z0-9-]{0,62}$');
    trace.getActiveSpan()?.setAttribute(Attr.tenantId, tenantId);
    const rawBody = request.body;
    if (!Buffer.isBuffer(rawBody)) throw new StreamdeskError('UNSUPPORTED_MEDIA_TYPE', 'The request body must be application/json');

    const tenant = await registry.get(tenantId).catch((error: unknown) => {
      throw new StreamdeskError('REDIS_UNAVAILABLE', 'The tenant registry is unavailable', undefined, { cause: error });
    });
    if (!tenant) throw new StreamdeskError('UNKNOWN_TENANT', `Tenant "${tenantId}" does not exist`);
    verifyWebhookSignature({
      secret: tenant.secret,
      timestamp: header(request.headers['x-streamdesk-timestamp']),
      signature: header(request.headers['x-streamdesk-signature']),
      rawBody,
      toleranceSeconds: config.webhookToleranceSeconds,
    });

    let json: unknown;
    try {
      json = JSON.parse(utf8.decode(rawBody));
    } catch {
      throw new StreamdeskError('INVALID_JSON', 'The request body is not valid UTF-8 JSON');
    }
    assertStorable(json, 'body');
    const parsed = webhookBodySchema.safeParse(json);
    if (!parsed.success) {
      const details = parsed.error.issues.map((issue) => ({ path: issue.path.join('.'), message: issue.message }));
      throw new StreamdeskError('BAD_REQUEST', details.map((d) => `${d.path || 'body'}: ${d.message}`).join('; '), details);
    }
    const deliveryHeader = header(request.headers['x-streamdesk-delivery']);
    if (deliveryHeader !== undefined && !deliveryIdPattern.test(deliveryHeader)) {
      throw new StreamdeskError('BAD_REQUEST', 'X-Streamdesk-Delivery must be 1 to 200 characters of A-Z, a-z, 0-9, ".", "_", ":" or "-"');
    }
    const deliveryId = deliveryHeader ?? `sha256:${createHash('sha256').update(rawBody).digest('hex')}`;

    const pending = await backlogOfTenant(tenantId).catch(() => 0);
    if (pending >= config.tenantBacklogLimit) {
      reply.header('Retry-After', '5');
      throw new StreamdeskError('BACKLOG_FULL', `Tenant "${tenantId}" has ${pending} unprocessed events (limit ${config.tenantBacklogLimit}); retry later`);
    }

    const { event: action, ticket } = parsed.data;
    const eventId = uuidv7();
    const stream = keys.events(tenantId);
    trace.getActiveSpan()?.setAttribute(Attr.ticketId, ticket.id);
    // The event carries this span's traceparent: every consumer's span of the ticket is its descendant.
    const sendAttributes = producerAttributes(stream, { id: eventId, type: 'ticket.received', tenant: tenantId, ticket: ticket.id });
    const result = await withSpan(sendSpanName('ticket.received'), sendAttributes, async (span) => {
      const event: TicketEventOf<'ticket.received'> = {
        id: eventId,
        type: 'ticket.received',
        v: currentVersion['ticket.received'],
        tenant: tenantId,
        ticket: ticket.id,
        ts: Date.now(),
        causation: '',
        correlation: eventId,
        traceparent: currentTraceparent(),
        data: { action, ticket, deliveryId },
      };
      let appended: [0, string] | [1, string, string];
      try {
        appended = await redis.sdIngest(stream, keys.deliverySeen(tenantId, deliveryId), config.idempotencyTtlSeconds, eventId, ...encodeEvent(event));
      } catch (error) {
        request.log.error({ err: toStreamdeskError(error), tenant: tenantId }, 'append failed');
        reply.header('Retry-After', '1');
        throw new StreamdeskError('REDIS_UNAVAILABLE', 'The event store is unavailable; the webhook was not accepted, retry later', undefined, { cause: error });
      }
      // A repeated delivery appended nothing: the event of the first delivery is the one in the stream.
      span.setAttributes({ [Attr.duplicate]: appended[0] === 0, [Attr.messagingMessageId]: appended[1], [Attr.eventId]: appended[1] });
      return appended;
    }, { kind: SpanKind.PRODUCER });
    const duplicate = result[0] === 0;
    deps.onAccepted?.(tenantId, duplicate);
    request.log.info({ tenant: tenantId, ticket: ticket.id, eventId: result[1], duplicate }, duplicate ? 'repeated delivery' : 'ticket received');
    return reply.status(202).send({ eventId: result[1], duplicate });
  });
}
