import { ROOT_CONTEXT, context, propagation, trace, type Context, type SpanContext } from '@opentelemetry/api';
import { pooledRandomBytes } from '../streams/ids.js';

/**
 * The W3C traceparent of the active span. With tracing off there is no active span, and a fresh
 * random one is returned so that every event still carries a valid, unique trace id.
 */
export function currentTraceparent(active: Context = context.active()): string {
  const carrier: Record<string, string> = {};
  propagation.inject(active, carrier);
  if (carrier.traceparent) return carrier.traceparent;
  return (
    activeTraceparent(active) ??
    `00-${pooledRandomBytes(16).toString('hex')}-${pooledRandomBytes(8).toString('hex')}-00`
  );
}

/** The W3C traceparent of the active span, or undefined when there is none. */
export function activeTraceparent(active: Context = context.active()): string | undefined {
  const spanContext = trace.getSpanContext(active);
  if (!spanContext || !trace.isSpanContextValid(spanContext)) return undefined;
  return `00-${spanContext.traceId}-${spanContext.spanId}-0${spanContext.traceFlags & 1}`;
}

const traceparentPattern = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;

/**
 * The remote span context an event's traceparent names, or undefined when it is not a valid W3C
 * traceparent. Parsed here rather than through the configured propagator: the envelope field is
 * W3C by definition, whatever OTEL_PROPAGATORS says about HTTP headers.
 */
export function parseTraceparent(traceparent: string): SpanContext | undefined {
  const match = traceparentPattern.exec(traceparent);
  if (!match || match[1] === 'ff' || (match[1] === '00' && match[5] !== undefined)) return undefined;
  const spanContext: SpanContext = {
    traceId: match[2]!,
    spanId: match[3]!,
    traceFlags: Number.parseInt(match[4]!, 16) & 1,
    isRemote: true,
  };
  return trace.isSpanContextValid(spanContext) ? spanContext : undefined;
}

/** A context whose parent span is the one an event's traceparent names (the root context when it names none). */
export function contextFromTraceparent(traceparent: string): Context {
  const spanContext = parseTraceparent(traceparent);
  return spanContext ? trace.setSpanContext(ROOT_CONTEXT, spanContext) : ROOT_CONTEXT;
}
