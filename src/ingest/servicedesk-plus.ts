import type { FastifyInstance } from 'fastify';
import { StreamdeskError } from '../errors.js';
import { assertStorable } from '../storable.js';
import { lookUpTenant, ticketIngest, type IngestDeps } from './accept.js';
import { authenticateWebhook } from './inbound-auth.js';
import { mapServiceDeskPlus, readTemplateJson } from './servicedesk-plus-payload.js';
import { webhookTenantId } from './webhook.js';

/** Form encoding can triple a description's size, so this route takes more than the JSON webhook's 256 KiB. */
export const serviceDeskPlusBodyLimit = 1024 * 1024;

const mediaTypes = ['application/json', 'application/*+json', 'application/x-www-form-urlencoded', 'text/plain'];

function parseBody(contentType: string, rawBody: Buffer): Record<string, unknown> {
  const text = rawBody.toString('utf8');
  if (contentType.startsWith('application/x-www-form-urlencoded')) {
    const form = Object.fromEntries(new URLSearchParams(text));
    // The REST API's own form: one field `input_data` holding the JSON.
    return typeof form.input_data === 'string' ? parseJson(form.input_data) : form;
  }
  return parseJson(text);
}

function parseJson(text: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    const template = readTemplateJson(text);
    if (template) return template;
    throw new StreamdeskError(
      'INVALID_JSON',
      'The request body is neither valid JSON nor the documented ServiceDesk Plus template',
    );
  }
  if (!value || typeof value !== 'object' || Array.isArray(value))
    throw new StreamdeskError('BAD_REQUEST', 'The request body must be a JSON object', [
      { path: '', message: 'expected an object' },
    ]);
  return value as Record<string, unknown>;
}

/**
 * POST /v1/webhooks/:tenant/servicedesk-plus — ServiceDesk Plus's own webhook body (docs/servicedesk-plus.md),
 * with the same authentication and deduplication as the generic webhook.
 */
export async function serviceDeskPlusRoutes(app: FastifyInstance, deps: IngestDeps): Promise<void> {
  const { config, registry } = deps;
  const accept = ticketIngest(deps);

  app.addContentTypeParser(
    mediaTypes,
    { parseAs: 'buffer', bodyLimit: serviceDeskPlusBodyLimit },
    (_request, body, done) => done(null, body),
  );

  app.post<{ Params: { tenant: string }; Querystring: { event?: string } }>(
    '/v1/webhooks/:tenant/servicedesk-plus',
    { bodyLimit: serviceDeskPlusBodyLimit },
    async (request, reply) => {
      const tenantId = webhookTenantId(request.params.tenant);
      const rawBody = request.body;
      if (!Buffer.isBuffer(rawBody)) {
        throw new StreamdeskError(
          'UNSUPPORTED_MEDIA_TYPE',
          'The request body must be application/x-www-form-urlencoded, application/json or text/plain',
        );
      }
      const tenant = await lookUpTenant(registry, tenantId);
      const auth = authenticateWebhook({
        tenantId,
        tenant,
        headers: request.headers,
        rawBody,
        toleranceSeconds: config.webhookToleranceSeconds,
      });
      const body = parseBody((request.headers['content-type'] ?? '').toLowerCase(), rawBody);
      // NUL and lone surrogates would be accepted here and refused by Postgres in every stage.
      assertStorable(body, 'body');
      const eventFromUrl =
        typeof request.query.event === 'string' && request.query.event !== '' ? request.query.event : undefined;
      const mapped = mapServiceDeskPlus(body, eventFromUrl);
      if (Array.isArray(mapped))
        throw new StreamdeskError(
          'BAD_REQUEST',
          mapped.map((p) => `${p.path || 'body'}: ${p.message}`).join('; '),
          mapped,
        );
      return accept(request, reply, {
        tenantId,
        auth,
        rawBody,
        action: mapped.action,
        ticket: mapped.ticket,
        modifiedAt: mapped.modifiedAt,
      });
    },
  );
}
