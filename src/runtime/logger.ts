import { context, trace } from '@opentelemetry/api';
import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino';
import type { Config } from '../config/config.js';

/** trace_id and span_id of the active span, so a log line leads to its trace (and back). */
function traceFields(): Record<string, string> {
  const span = trace.getSpanContext(context.active());
  if (!span || !trace.isSpanContextValid(span)) return {};
  return { trace_id: span.traceId, span_id: span.spanId, trace_flags: `0${span.traceFlags & 1}` };
}

/**
 * JSON logs (to stdout unless `destination` is given). Secrets, signatures and bodies are redacted
 * wherever they might be logged.
 */
export function createLogger(config: Pick<Config, 'logLevel'>, role: string, destination?: DestinationStream): Logger {
  const options: LoggerOptions = {
    level: config.logLevel,
    base: { service: 'streamdesk', role },
    mixin: traceFields,
    redact: {
      paths: [
        'secret',
        '*.secret',
        'authToken',
        '*.authToken',
        'apiKey',
        '*.apiKey',
        'writeback.secret',
        'writeback.authToken',
        'clientSecret',
        '*.clientSecret',
        'refreshToken',
        '*.refreshToken',
        'accessToken',
        '*.accessToken',
        'writeback.auth.clientSecret',
        'writeback.auth.refreshToken',
        'req.headers.authorization',
        'req.headers["x-streamdesk-signature"]',
        'headers.authorization',
        'headers["x-streamdesk-signature"]',
        'req.headers["x-streamdesk-token"]',
        'headers["x-streamdesk-token"]',
        'body',
        'rawBody',
        // ioredis errors carry the failed command's arguments: event fields, ticket text included.
        '*.command.args',
      ],
      censor: '[redacted]',
    },
  };
  return destination ? pino(options, destination) : pino(options);
}
