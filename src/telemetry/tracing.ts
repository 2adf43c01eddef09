import {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  context,
  trace,
  type Attributes,
  type Context,
  type Span,
} from '@opentelemetry/api';
import type { TicketEvent } from '../events.js';
import type { Outcome, StreamEvent } from '../streams/processor.js';
import { Attr, messagingSystemRedis } from './attributes.js';
import { contextFromTraceparent } from './traceparent.js';

/**
 * Spans through @opentelemetry/api only: with no SDK registered (otel/register.ts not loaded, or
 * tracing switched off) every call here is a cheap no-op and the code runs unchanged.
 */
const tracer = trace.getTracer('streamdesk');

/** Marks a span failed: the exception as an event, error status, and `error.type` (the error's code when it has one). */
export function recordFailure(span: Span, error: unknown): void {
  const failure = error instanceof Error ? error : new Error(String(error));
  const code = (error as { code?: unknown } | null)?.code;
  span.recordException(failure);
  span.setStatus({ code: SpanStatusCode.ERROR, message: failure.message });
  span.setAttribute(Attr.errorType, typeof code === 'string' ? code : failure.name);
}

/**
 * Runs `work` inside a new active span, child of the active one (or of `parent`). A throw records
 * the exception, sets error status and is rethrown. Stages use it for their outbound calls:
 *   withSpan('chat gpt-4o-mini', { [Attr.genAiOperationName]: 'chat', ... }, async (span) => { ...; span.setAttribute(...) })
 */
export function withSpan<T>(
  name: string,
  attributes: Attributes,
  work: (span: Span) => Promise<T>,
  options: { kind?: SpanKind; parent?: Context } = {},
): Promise<T> {
  return tracer.startActiveSpan(
    name,
    { kind: options.kind ?? SpanKind.INTERNAL, attributes },
    options.parent ?? context.active(),
    async (span) => {
      try {
        return await work(span);
      } catch (error) {
        recordFailure(span, error);
        throw error;
      } finally {
        span.end();
      }
    },
  );
}

/** Attributes of the LLM call span (gen_ai semantic conventions); tokens are added once the answer is in. */
export function genAiChatAttributes(model: string, system = 'openai'): Attributes {
  return {
    [Attr.genAiOperationName]: 'chat',
    [Attr.genAiSystem]: system,
    [Attr.genAiProviderName]: system,
    [Attr.genAiRequestModel]: model,
  };
}

/** Span name of an LLM call: `chat <model>`, as the gen_ai conventions name it. */
export const genAiChatSpanName = (model: string) => `chat ${model}`;

/** Span name of a helpdesk write-back: `writeback <target>`. */
export const writebackSpanName = (target: string) => `writeback ${target}`;

/** Span name of a consumer group processing one event: `<group> process`. */
export const processSpanName = (group: string) => `${group} process`;

/** Span name of ingest appending an event to the tenant's stream: `send <event type>`. */
export const sendSpanName = (type: string) => `send ${type}`;

/** Attributes every span about one event carries, whether it appends it or processes it. */
function eventAttributes(
  operation: 'send' | 'process',
  destination: string,
  event: Pick<TicketEvent, 'id' | 'type' | 'tenant' | 'ticket'>,
): Attributes {
  return {
    [Attr.messagingSystem]: messagingSystemRedis,
    [Attr.messagingOperationType]: operation,
    [Attr.messagingOperationName]: operation,
    [Attr.messagingDestinationName]: destination,
    [Attr.messagingMessageId]: event.id,
    [Attr.tenantId]: event.tenant,
    [Attr.ticketId]: event.ticket,
    [Attr.eventId]: event.id,
    [Attr.eventType]: event.type,
  };
}

/** Messaging attributes of the span that appends `event` to `destination` (the tenant's stream key). */
export function producerAttributes(
  destination: string,
  event: Pick<TicketEvent, 'id' | 'type' | 'tenant' | 'ticket'>,
): Attributes {
  return eventAttributes('send', destination, event);
}

function consumerAttributes(
  group: string,
  destination: string,
  event: TicketEvent,
  attempt: number,
  streamId?: string,
): Attributes {
  return {
    ...eventAttributes('process', destination, event),
    [Attr.messagingConsumerGroupName]: group,
    [Attr.attempt]: attempt,
    ...(streamId ? { [Attr.streamEntryId]: streamId } : {}),
    ...(event.replay ? { [Attr.replayId]: event.replay } : {}),
  };
}

/** The spans of one projection batch: one per event, each ended with that event's outcome. */
export type BatchSpans = {
  /**
   * Runs the batch's work: inside its event's span when the batch holds one event, so the SQL
   * shows under it; outside any span for several, whose statements belong to no single ticket.
   */
  run<T>(work: () => Promise<T>): Promise<T>;
  end(outcomes: readonly Outcome[]): void;
};

/**
 * CONSUMER spans for the groups that read the tenants' streams. Each span's parent is the span
 * that produced the event (the traceparent in its envelope), so a ticket's whole way through the
 * pipeline is one trace.
 */
export type ConsumerTracing = {
  /** One span per handler call of a stage; a retry is a new span with the next `streamdesk.attempt`. */
  process<T>(group: string, event: TicketEvent, attempt: number, work: () => Promise<T>): Promise<T>;
  /** One span per event a projection applies in a batch. */
  batch(group: string, entries: readonly StreamEvent[], attempts: ReadonlyMap<string, number>): BatchSpans;
};

/** `destinationOf(tenant)` is the tenant's stream key (`messaging.destination.name`). */
export function consumerTracing(destinationOf: (tenant: string) => string): ConsumerTracing {
  return {
    process(group, event, attempt, work) {
      return withSpan(
        processSpanName(group),
        consumerAttributes(group, destinationOf(event.tenant), event, attempt),
        () => work(),
        {
          kind: SpanKind.CONSUMER,
          parent: contextFromTraceparent(event.traceparent),
        },
      );
    },
    batch(group, entries, attempts) {
      const spans = entries.map(({ event, streamId }) =>
        tracer.startSpan(
          processSpanName(group),
          {
            kind: SpanKind.CONSUMER,
            attributes: {
              ...consumerAttributes(group, destinationOf(event.tenant), event, attempts.get(event.id) ?? 1, streamId),
              [Attr.batchSize]: entries.length,
            },
          },
          contextFromTraceparent(event.traceparent),
        ),
      );
      return {
        run: (work) => context.with(spans.length === 1 ? trace.setSpan(ROOT_CONTEXT, spans[0]!) : ROOT_CONTEXT, work),
        end(outcomes) {
          spans.forEach((span, index) => {
            const outcome = outcomes[index];
            if (outcome && !outcome.ok) recordFailure(span, outcome.error);
            span.end();
          });
        },
      };
    },
  };
}

/** What the process entrypoint registered to flush and stop telemetry (otel/register.ts does). */
let shutdownHook: (() => Promise<void>) | undefined;

/** Called by the telemetry bootstrap: `shutdownTelemetry()` will run `hook`. */
export function onTelemetryShutdown(hook: () => Promise<void>): void {
  shutdownHook = hook;
}

/** Flushes pending spans and stops the SDK, if one was started; waits at most `timeoutMs`. */
export async function shutdownTelemetry(timeoutMs = 5_000): Promise<void> {
  const hook = shutdownHook;
  if (!hook) return;
  shutdownHook = undefined;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    hook().catch(() => undefined),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
      timer.unref();
    }),
  ]);
  clearTimeout(timer);
}
