/**
 * The error catalogue. Every error that reaches a client, a log line or a dead letter carries one of
 * these codes; docs/errors.md documents each one (a test keeps the two in step).
 */
export const errorCatalogue = {
  BAD_REQUEST: { status: 400, retryable: false, message: 'The request body is not valid' },
  INVALID_JSON: { status: 400, retryable: false, message: 'The request body is not valid JSON' },
  INVALID_TENANT_ID: { status: 400, retryable: false, message: 'The tenant id is not valid' },
  MISSING_SIGNATURE: { status: 401, retryable: false, message: 'The signature or timestamp header is missing' },
  INVALID_SIGNATURE: { status: 401, retryable: false, message: 'The signature does not match' },
  STALE_TIMESTAMP: { status: 401, retryable: false, message: 'The timestamp is outside the allowed window' },
  UNAUTHORIZED: { status: 401, retryable: false, message: 'A valid admin token is required' },
  NOT_FOUND: { status: 404, retryable: false, message: 'Not found' },
  UNKNOWN_TENANT: { status: 404, retryable: false, message: 'The tenant does not exist' },
  TENANT_EXISTS: { status: 409, retryable: false, message: 'The tenant already exists' },
  PAYLOAD_TOO_LARGE: { status: 413, retryable: false, message: 'The request body is larger than allowed' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, retryable: false, message: 'The request body must be application/json' },
  BACKLOG_FULL: { status: 429, retryable: true, message: "The tenant's backlog is over its limit" },
  REDIS_UNAVAILABLE: { status: 503, retryable: true, message: 'The event store is unavailable' },
  POSTGRES_UNAVAILABLE: { status: 503, retryable: true, message: 'The database is unavailable' },
  INTERNAL: { status: 500, retryable: true, message: 'Internal error' },
  INVALID_EVENT: { status: 500, retryable: false, message: 'A stream entry is not a valid event' },
  UNKNOWN_EVENT_VERSION: { status: 500, retryable: false, message: 'An event has a schema version this code cannot read' },
  HANDLER_FAILED: { status: 500, retryable: true, message: 'A stage handler failed' },
  LLM_UNAVAILABLE: { status: 502, retryable: true, message: 'The LLM did not answer' },
  LLM_RATE_LIMITED: { status: 429, retryable: true, message: 'The LLM rate-limited the request' },
  LLM_BAD_OUTPUT: { status: 502, retryable: true, message: 'The LLM answer did not match the enhancement schema' },
  BUDGET_EXCEEDED: { status: 429, retryable: true, message: "The tenant's LLM budget is used up; the ticket waits" },
  LLM_REJECTED: { status: 502, retryable: false, message: 'The LLM rejected the request' },
  WRITEBACK_FAILED: { status: 502, retryable: true, message: 'The helpdesk did not accept the note' },
  WRITEBACK_REJECTED: { status: 502, retryable: false, message: 'The helpdesk rejected the note' },
} as const satisfies Record<string, { status: number; retryable: boolean; message: string }>;

export type ErrorCode = keyof typeof errorCatalogue;

export class StreamdeskError extends Error {
  override readonly name = 'StreamdeskError';
  readonly status: number;
  readonly retryable: boolean;
  /** Milliseconds the caller should wait before trying again, when the peer said so. */
  readonly retryAfterMs: number | undefined;

  constructor(
    readonly code: ErrorCode,
    message: string = errorCatalogue[code].message,
    readonly details?: unknown,
    options: { cause?: unknown; retryAfterMs?: number; retryable?: boolean } = {},
  ) {
    super(message, { cause: options.cause });
    this.status = errorCatalogue[code].status;
    this.retryable = options.retryable ?? errorCatalogue[code].retryable;
    this.retryAfterMs = options.retryAfterMs;
  }
}

const redisOutage = /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|Connection is closed|Stream isn't writeable|max retries|LOADING|MASTERDOWN|CLUSTERDOWN|TRYAGAIN/i;
const postgresOutage = /^(08|57P0|53)/;

const notTheEventsFault = new Set<ErrorCode>(['REDIS_UNAVAILABLE', 'POSTGRES_UNAVAILABLE', 'LLM_UNAVAILABLE', 'LLM_RATE_LIMITED', 'BUDGET_EXCEEDED']);

/**
 * Outages of our own stores, of the LLM provider (down, or limiting its callers), and a tenant's
 * budget wait are not the event's fault: retried without using up its attempts.
 */
export function isOutage(error: StreamdeskError): boolean {
  return notTheEventsFault.has(error.code);
}

/** Maps whatever a Redis, Postgres or handler call threw to a coded error. */
export function toStreamdeskError(error: unknown): StreamdeskError {
  if (error instanceof StreamdeskError) return error;
  const message = error instanceof Error ? error.message : String(error);
  const sqlState = typeof error === 'object' && error !== null && 'code' in error ? String((error as { code: unknown }).code) : '';
  if (postgresOutage.test(sqlState) || /terminating connection|Connection terminated|not queryable|timeout exceeded when trying to connect|ECONNREFUSED .*:5432/i.test(message)) {
    return new StreamdeskError('POSTGRES_UNAVAILABLE', message, undefined, { cause: error });
  }
  if (redisOutage.test(message)) return new StreamdeskError('REDIS_UNAVAILABLE', message, undefined, { cause: error });
  return new StreamdeskError('HANDLER_FAILED', message, undefined, { cause: error });
}
