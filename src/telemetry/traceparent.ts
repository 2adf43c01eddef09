import { randomBytes } from 'node:crypto';
import { context, propagation, trace, type Context } from '@opentelemetry/api';

/**
 * The W3C traceparent of the active span. With tracing off there is no active span, and a fresh
 * random one is returned so that every event still carries a valid, unique trace id.
 */
export function currentTraceparent(active: Context = context.active()): string {
  const carrier: Record<string, string> = {};
  propagation.inject(active, carrier);
  if (carrier.traceparent) return carrier.traceparent;
  const spanContext = trace.getSpanContext(active);
  if (spanContext && trace.isSpanContextValid(spanContext)) {
    return `00-${spanContext.traceId}-${spanContext.spanId}-0${spanContext.traceFlags & 1}`;
  }
  return `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-00`;
}
