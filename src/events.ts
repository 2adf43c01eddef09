import { z } from 'zod';
import { StreamdeskError } from './errors.js';

/** The ticket as the helpdesk sent it; also the webhook's `ticket` object. */
export const ticketSchema = z.object({
  id: z.union([z.string().trim().min(1).max(128), z.number().int().nonnegative().transform(String)]),
  subject: z.string().trim().min(1).max(1_000),
  description: z.string().max(100_000),
  priority: z.string().trim().max(64).optional(),
  category: z.string().trim().max(256).optional(),
  site: z.string().trim().max(256).optional(),
  requester: z
    .object({ name: z.string().max(256).optional(), email: z.string().email().max(320).optional() })
    .optional(),
  createdAt: z.iso.datetime({ offset: true }).optional(),
});
export type Ticket = z.infer<typeof ticketSchema>;

const similarTicket = z.object({ ticketId: z.string(), subject: z.string(), status: z.string(), rank: z.number() });
const matchedAsset = z.object({
  ip: z.string(),
  hostname: z.string(),
  site: z.string().nullable(),
  kind: z.string().nullable(),
  network: z.string(),
});
// `excerpt` came after v1 shipped: optional, so context gathered before it still parses.
const kbArticle = z.object({
  articleId: z.string(),
  title: z.string(),
  rank: z.number(),
  excerpt: z.string().optional(),
});
const ticketContextSchema = z.object({
  similarTickets: z.array(similarTicket),
  assets: z.array(matchedAsset),
  unmatchedIps: z.array(z.string()),
  kbArticles: z.array(kbArticle),
});
export type TicketContext = z.infer<typeof ticketContextSchema>;

export const priorities = ['low', 'medium', 'high', 'urgent'] as const;
export const enhancementSchema = z.object({
  summary: z.string().min(1).max(2_000),
  likelyCause: z.string().max(2_000),
  suggestedCategory: z.string().max(256),
  suggestedPriority: z.enum(priorities),
  nextSteps: z.array(z.string().max(1_000)).max(20),
  confidence: z.number().min(0).max(1),
});
export type Enhancement = z.infer<typeof enhancementSchema>;

const writebackTarget = z.enum(['none', 'servicedesk-plus', 'webhook']);

/**
 * What the tenant's budget decided for a ticket: enhanced by the offline enhancer instead of the
 * LLM, or enhanced by the LLM after waiting (since `waitingSince`) for the budget.
 */
export const enhancementBudgetSchema = z.object({
  exceeded: z.enum(['dailyTokens', 'monthlyTokens', 'dailyUsd', 'monthlyUsd']),
  action: z.enum(['offline', 'waited']),
  waitingSince: z.string().optional(),
});

/** Data schemas per event type and version; the envelope's `v` picks one (after upcasting). */
export const eventDataSchemas = {
  'ticket.received': z.object({
    action: z.enum(['ticket.created', 'ticket.updated']),
    ticket: ticketSchema.extend({ id: z.string() }),
    deliveryId: z.string(),
  }),
  'ticket.context_gathered': z.object({
    context: ticketContextSchema,
    // What the enhancer needs of the ticket, so the enhance stage reads no other event. Optional:
    // context_gathered events written without it are completed from the archived ticket.received.
    ticket: z
      .object({
        subject: z.string(),
        description: z.string(),
        priority: z.string().optional(),
        category: z.string().optional(),
      })
      .optional(),
  }),
  'ticket.enhanced': z.object({
    enhancement: enhancementSchema,
    model: z.string(),
    tokens: z.object({ prompt: z.number().int(), completion: z.number().int() }),
    latencyMs: z.number(),
    // Added after v1 shipped, so optional: events written before them still parse. `costUsd` is
    // absent there and for a model without a price; `budget` only when the budget decided.
    costUsd: z.number().nonnegative().optional(),
    budget: enhancementBudgetSchema.optional(),
  }),
  'ticket.written_back': z.object({
    target: writebackTarget,
    noteId: z.string().nullable(),
    status: z.number().int().nullable(),
  }),
  'ticket.failed': z.object({
    stage: z.string(),
    failedEventId: z.string(),
    failedEventType: z.string(),
    error: z.object({ code: z.string(), message: z.string() }),
    attempts: z.number().int(),
  }),
} as const;

export type EventType = keyof typeof eventDataSchemas;
export const eventTypes = Object.keys(eventDataSchemas) as EventType[];
export type EventData<T extends EventType> = z.infer<(typeof eventDataSchemas)[T]>;

/** The current schema version of every event type. */
export const currentVersion: Record<EventType, number> = {
  'ticket.received': 1,
  'ticket.context_gathered': 1,
  'ticket.enhanced': 1,
  'ticket.written_back': 1,
  'ticket.failed': 1,
};

/**
 * Upcasters turn data written under an older version into the next version, so archived history
 * replays under current code. Key: `${type}@${fromVersion}`.
 */
type Upcaster = (data: unknown) => unknown;
export const upcasters = new Map<string, Upcaster>();

const envelopeFields = z.object({
  id: z.string().uuid(),
  type: z.enum(eventTypes as [EventType, ...EventType[]]),
  v: z.string().regex(/^\d+$/).transform(Number),
  tenant: z.string().min(1),
  ticket: z.string().min(1),
  ts: z.string().regex(/^\d+$/).transform(Number),
  causation: z.string(),
  correlation: z.string(),
  traceparent: z.string(),
  replay: z.string().optional(),
  data: z.string(),
});

type EnvelopeBase = {
  id: string;
  v: number;
  tenant: string;
  ticket: string;
  ts: number;
  /** Id of the event that caused this one ('' for an event from outside). */
  causation: string;
  /** Id of the first event of the chain: the ticket.received event. */
  correlation: string;
  traceparent: string;
  /** Set on events emitted by a stage replay: the replay run's id. */
  replay?: string | undefined;
};
export type TicketEvent = { [T in EventType]: EnvelopeBase & { type: T; data: EventData<T> } }[EventType];
export type TicketEventOf<T extends EventType> = Extract<TicketEvent, { type: T }>;

/** The stream entry's field/value list for an event. */
export function encodeEvent(event: TicketEvent): string[] {
  const fields = [
    'id',
    event.id,
    'type',
    event.type,
    'v',
    String(event.v),
    'tenant',
    event.tenant,
    'ticket',
    event.ticket,
    'ts',
    String(event.ts),
    'causation',
    event.causation,
    'correlation',
    event.correlation,
    'traceparent',
    event.traceparent,
  ];
  if (event.replay) fields.push('replay', event.replay);
  fields.push('data', JSON.stringify(event.data));
  return fields;
}

/** A stream entry's flat field/value list (`[f1, v1, f2, v2, …]`) as a record. */
export function fieldsToRecord(fields: readonly string[]): Record<string, string> {
  const record: Record<string, string> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) record[fields[i]!] = fields[i + 1]!;
  return record;
}

/** Parses a stream entry into an event, upcasting old versions; throws a permanent error when it can't. */
export function decodeEvent(fields: readonly string[] | Record<string, string>): TicketEvent {
  return decodeEnvelope(Array.isArray(fields) ? fieldsToRecord(fields) : (fields as Record<string, string>));
}

/**
 * Decodes an archived event, whose data Postgres already parsed (jsonb): the same validation and
 * upcasting as a stream entry, without serialising and parsing the data again.
 */
export function decodeArchivedEvent(fields: Record<string, string>, data: unknown): TicketEvent {
  return decodeEnvelope({ ...fields, data: '' }, { parsedData: data });
}

function decodeEnvelope(raw: Record<string, string>, options: { parsedData?: unknown } = {}): TicketEvent {
  const envelope = envelopeFields.safeParse(raw);
  if (!envelope.success) {
    throw new StreamdeskError(
      'INVALID_EVENT',
      `Invalid event envelope: ${z.prettifyError(envelope.error).replace(/\n/g, '; ')}`,
    );
  }
  const { data: json, ...head } = envelope.data;
  let data: unknown = options.parsedData;
  if (!('parsedData' in options)) {
    try {
      data = JSON.parse(json);
    } catch {
      throw new StreamdeskError('INVALID_EVENT', `Event ${head.id} has data that is not JSON`);
    }
  }
  let version = head.v;
  while (version < currentVersion[head.type]) {
    const upcast = upcasters.get(`${head.type}@${version}`);
    if (!upcast) break;
    data = upcast(data);
    version += 1;
  }
  if (version !== currentVersion[head.type]) {
    throw new StreamdeskError(
      'UNKNOWN_EVENT_VERSION',
      `Event ${head.id} is ${head.type} v${head.v}; this code reads v${currentVersion[head.type]} and has no upcaster from v${version}`,
    );
  }
  const parsed = eventDataSchemas[head.type].safeParse(data);
  if (!parsed.success) {
    throw new StreamdeskError(
      'INVALID_EVENT',
      `Event ${head.id} (${head.type}) has invalid data: ${z.prettifyError(parsed.error).replace(/\n/g, '; ')}`,
    );
  }
  return { ...head, v: version, data: parsed.data } as TicketEvent;
}
