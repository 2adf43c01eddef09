import { createHash } from 'node:crypto';
import { SpanKind, trace } from '@opentelemetry/api';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../config/config.js';
import { normalizePriority } from '../consumers/enhancers/offline.js';
import { StreamdeskError, toStreamdeskError } from '../errors.js';
import { currentVersion, encodeEvent, type Ticket, type TicketEventOf } from '../events.js';
import { uuidv7 } from '../streams/ids.js';
import type { IngestOutcome } from '../streams/scripts.js';
import { appendAndMarkWork } from '../streams/work.js';
import type { RedisKeys } from '../streams/keys.js';
import { laneOfPriority } from '../streams/lanes.js';
import type { RedisClient } from '../streams/redis.js';
import { backlogOf, tenantStatus } from '../streams/status.js';
import type { TenantRegistry, Tenant } from '../tenants/registry.js';
import { Attr } from '../telemetry/attributes.js';
import { currentTraceparent } from '../telemetry/traceparent.js';
import { producerAttributes, sendSpanName, withSpan } from '../telemetry/tracing.js';
import type { Authenticated } from './inbound-auth.js';

export type IngestDeps = {
  config: Config;
  redis: RedisClient;
  keys: RedisKeys;
  registry: TenantRegistry;
  onAccepted?: (tenant: string, duplicate: boolean) => void;
};

export type TicketAction = 'ticket.created' | 'ticket.updated';

const deliveryIdPattern = /^[A-Za-z0-9._:-]{1,200}$/;

const sha256 = (...parts: (string | Buffer)[]) => {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part).update('\0');
  return hash.digest('hex');
};

function header(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** The tenant of a webhook URL; a registry that cannot answer is an outage (503), not an unknown tenant. */
export async function lookUpTenant(registry: TenantRegistry, tenantId: string): Promise<Tenant | undefined> {
  return registry.get(tenantId).catch((error: unknown) => {
    if (error instanceof StreamdeskError) throw error;
    throw new StreamdeskError('REDIS_UNAVAILABLE', 'The tenant registry is unavailable', undefined, { cause: error });
  });
}

type AcceptInput = {
  tenantId: string;
  auth: Authenticated;
  rawBody: Buffer;
  action: TicketAction;
  ticket: Ticket;
  modifiedAt?: string | undefined;
};

type Dedupe = { key: string; ttlSeconds: number };

/** The delivery id: the helpdesk's X-Streamdesk-Delivery if it sent one, else the body's hash. */
function deliveryIdOf(request: FastifyRequest, rawBody: Buffer): string {
  const deliveryHeader = header(request.headers['x-streamdesk-delivery']);
  if (deliveryHeader !== undefined && !deliveryIdPattern.test(deliveryHeader)) {
    throw new StreamdeskError(
      'BAD_REQUEST',
      'X-Streamdesk-Delivery must be 1 to 200 characters of A-Z, a-z, 0-9, ".", "_", ":" or "-"',
    );
  }
  return deliveryHeader ?? `sha256:${createHash('sha256').update(rawBody).digest('hex')}`;
}

/** The key that tells a repeat of this request or of this ticket event apart, and how long it is kept. */
function dedupeOf(config: Config, keys: RedisKeys, input: AcceptInput, bodyHash: string): Dedupe {
  const { tenantId, auth, action, ticket } = input;
  // A signed request can be replayed while its timestamp is inside the window on either side of now.
  if (auth.kind === 'signed')
    return {
      key: keys.dedupe(tenantId, sha256('signed', auth.timestamp, bodyHash)),
      ttlSeconds: 2 * config.webhookToleranceSeconds + 60,
    };
  // Without a modification time, an update is told apart by its body, so a real later update is never dropped.
  const modified = input.modifiedAt ?? (action === 'ticket.updated' ? `body:${bodyHash}` : '');
  return {
    key: keys.dedupe(tenantId, sha256('ticket', ticket.id, action, modified)),
    ttlSeconds: config.idempotencyTtlSeconds,
  };
}

function receivedEvent(eventId: string, input: AcceptInput, deliveryId: string): TicketEventOf<'ticket.received'> {
  const { tenantId, action, ticket } = input;
  return {
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
}

/** Appends the ticket.received event (or finds the first one of a repeat) inside a producer span. */
async function appendReceived(
  deps: IngestDeps,
  request: FastifyRequest,
  reply: FastifyReply,
  input: AcceptInput,
  ids: { deliveryId: string; bodyHash: string; dedupe: Dedupe },
): Promise<IngestOutcome> {
  const { config, redis, keys } = deps;
  const { tenantId, ticket } = input;
  const eventId = uuidv7();
  // A high or urgent ticket is handled in the priority lane, ahead of the tenant's backlog.
  const lane = laneOfPriority(normalizePriority(ticket.priority));
  const stream = keys.lane(tenantId, lane);
  trace.getActiveSpan()?.setAttribute(Attr.ticketId, ticket.id);
  // The event carries this span's traceparent: every consumer's span of the ticket is its descendant.
  const sendAttributes = producerAttributes(stream, {
    id: eventId,
    type: 'ticket.received',
    tenant: tenantId,
    ticket: ticket.id,
  });
  return withSpan(
    sendSpanName('ticket.received'),
    sendAttributes,
    async (span) => {
      let outcome: IngestOutcome;
      try {
        outcome = await appendAndMarkWork(redis, keys, tenantId, {
          stream,
          otherLane: keys.otherLane(tenantId, lane),
          laneSequence: keys.laneSequence(tenantId),
          marker: keys.deliverySeen(tenantId, ids.deliveryId),
          markerTtlSeconds: config.idempotencyTtlSeconds,
          eventId,
          bodyHash: ids.bodyHash,
          dedupe: ids.dedupe,
          fields: encodeEvent(receivedEvent(eventId, input, ids.deliveryId)),
        });
      } catch (error) {
        request.log.error({ err: toStreamdeskError(error), tenant: tenantId }, 'append failed');
        reply.header('Retry-After', '1');
        throw new StreamdeskError(
          'REDIS_UNAVAILABLE',
          'The event store is unavailable; the webhook was not accepted, retry later',
          undefined,
          { cause: error },
        );
      }
      // A repeat appended nothing: the event of the first delivery is the one in the stream.
      span.setAttributes({
        [Attr.duplicate]: outcome.outcome !== 'appended',
        [Attr.messagingMessageId]: outcome.eventId,
        [Attr.eventId]: outcome.eventId,
      });
      return outcome;
    },
    { kind: SpanKind.PRODUCER },
  );
}

/**
 * Refuses a webhook (429 BACKLOG_FULL) while its tenant has too many unprocessed events; the
 * count is cached per tenant for a second (five when full).
 */
function backlogGate(deps: IngestDeps): (tenantId: string, reply: FastifyReply) => Promise<void> {
  const { config, redis, keys } = deps;
  const backlog = new Map<string, { value: number; until: number }>();
  // One count per tenant at a time: when the cached figure expires, the webhooks that arrive while
  // it is counted wait for that count instead of each starting another.
  const counting = new Map<string, Promise<number>>();

  async function countBacklog(tenant: string): Promise<number> {
    try {
      // Counted in Redis up to the limit: the verdict needs no more, and XINFO's lag is not trusted.
      const value = backlogOf(await tenantStatus(redis, keys, tenant, { lagCap: config.tenantBacklogLimit }));
      // A full backlog is not counted again before the Retry-After it answers with.
      backlog.set(tenant, { value, until: Date.now() + (value >= config.tenantBacklogLimit ? 5_000 : 1_000) });
      return value;
    } finally {
      counting.delete(tenant);
    }
  }

  function backlogOfTenant(tenant: string): Promise<number> | number {
    const cached = backlog.get(tenant);
    if (cached && cached.until > Date.now()) return cached.value;
    let count = counting.get(tenant);
    if (!count) {
      count = countBacklog(tenant);
      counting.set(tenant, count);
    }
    return count;
  }

  async function refuseWhenBacklogFull(tenantId: string, reply: FastifyReply): Promise<void> {
    const known = backlogOfTenant(tenantId);
    // A count that fails lets the webhook through: the append that follows answers for Redis.
    const pending = typeof known === 'number' ? known : await known.catch(() => 0);
    if (pending >= config.tenantBacklogLimit) {
      reply.header('Retry-After', '5');
      throw new StreamdeskError(
        'BACKLOG_FULL',
        `Tenant "${tenantId}" has ${pending} unprocessed events (limit ${config.tenantBacklogLimit}); retry later`,
      );
    }
  }

  return refuseWhenBacklogFull;
}

/**
 * Appends a verified, validated ticket as `ticket.received`, once: a repeated delivery id with the
 * same body, a replayed signed request (same timestamp and body, any delivery id) and, for token
 * auth, the same ticket event (ticket id, type and the helpdesk's modification time) answer 202
 * `duplicate: true` with the first event id; a delivery id reused for another body answers 409.
 */
export function ticketIngest(deps: IngestDeps) {
  const { config, keys } = deps;
  const refuseWhenBacklogFull = backlogGate(deps);

  return async function accept(
    request: FastifyRequest,
    reply: FastifyReply,
    input: AcceptInput,
  ): Promise<FastifyReply> {
    const { tenantId, ticket } = input;
    const deliveryId = deliveryIdOf(request, input.rawBody);
    const bodyHash = sha256(input.rawBody);
    const dedupe = dedupeOf(config, keys, input, bodyHash);
    await refuseWhenBacklogFull(tenantId, reply);
    const result = await appendReceived(deps, request, reply, input, { deliveryId, bodyHash, dedupe });
    if (result.outcome === 'conflict') {
      throw new StreamdeskError(
        'DELIVERY_CONFLICT',
        `X-Streamdesk-Delivery "${deliveryId}" was already used for a different body; nothing was appended`,
        { firstEventId: result.eventId },
      );
    }
    const duplicate = result.outcome === 'duplicate';
    deps.onAccepted?.(tenantId, duplicate);
    request.log.info(
      { tenant: tenantId, ticket: ticket.id, eventId: result.eventId, duplicate },
      duplicate ? 'repeated delivery' : 'ticket received',
    );
    return reply.status(202).send({ eventId: result.eventId, duplicate });
  };
}
