import { ReplyError } from 'ioredis';
import pg from 'pg';

/**
 * The error catalogue. Every error that reaches a client, a log line or a dead letter carries one of
 * these codes; docs/errors.md documents each one (a test keeps the two in step).
 */
export const errorCatalogue = {
  BAD_REQUEST: { status: 400, retryable: false, message: 'The request body is not valid' },
  INVALID_JSON: { status: 400, retryable: false, message: 'The request body is not valid JSON' },
  INVALID_TENANT_ID: { status: 400, retryable: false, message: 'The tenant id is not valid' },
  MALFORMED_REQUEST: { status: 400, retryable: false, message: 'The request is not valid HTTP' },
  INVALID_URL: { status: 400, retryable: false, message: 'The URL is not validly encoded' },
  WRITEBACK_TARGET_REFUSED: { status: 400, retryable: false, message: 'The write-back target is not allowed' },
  MISSING_SIGNATURE: { status: 401, retryable: false, message: 'The signature or timestamp header is missing' },
  INVALID_SIGNATURE: { status: 401, retryable: false, message: 'The signature does not match' },
  STALE_TIMESTAMP: { status: 401, retryable: false, message: 'The timestamp is outside the allowed window' },
  INVALID_CREDENTIALS: { status: 401, retryable: false, message: 'The credentials do not match' },
  UNAUTHORIZED: { status: 401, retryable: false, message: 'A valid admin token is required' },
  CSRF_REJECTED: { status: 403, retryable: false, message: "The request lacks the console session's CSRF token" },
  NOT_FOUND: { status: 404, retryable: false, message: 'Not found' },
  UNKNOWN_TENANT: { status: 404, retryable: false, message: 'The tenant does not exist' },
  TENANT_EXISTS: { status: 409, retryable: false, message: 'The tenant already exists' },
  REQUEST_TIMEOUT: { status: 408, retryable: true, message: 'The request was not received in time' },
  DELIVERY_CONFLICT: {
    status: 409,
    retryable: false,
    message: 'The delivery id was already used for a different body',
  },
  PAYLOAD_TOO_LARGE: { status: 413, retryable: false, message: 'The request body is larger than allowed' },
  URI_TOO_LONG: { status: 414, retryable: false, message: 'The URL is too long' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, retryable: false, message: 'The request body must be application/json' },
  HEADERS_TOO_LARGE: { status: 431, retryable: false, message: 'The request headers are too large' },
  SIGN_IN_RATE_LIMITED: { status: 429, retryable: true, message: 'Too many failed sign-ins; try again later' },
  BACKLOG_FULL: { status: 429, retryable: true, message: "The tenant's backlog is over its limit" },
  REDIS_UNAVAILABLE: { status: 503, retryable: true, message: 'The event store is unavailable' },
  POSTGRES_UNAVAILABLE: { status: 503, retryable: true, message: 'The database is unavailable' },
  INTERNAL: { status: 500, retryable: true, message: 'Internal error' },
  ENCRYPTION_KEY_UNKNOWN: {
    status: 500,
    retryable: true,
    message: 'A stored secret is encrypted with a key that is not configured',
  },
  INVALID_EVENT: { status: 500, retryable: false, message: 'A stream entry is not a valid event' },
  UNKNOWN_EVENT_VERSION: {
    status: 500,
    retryable: false,
    message: 'An event has a schema version this code cannot read',
  },
  HANDLER_FAILED: { status: 500, retryable: true, message: 'A stage handler failed' },
  LLM_UNAVAILABLE: { status: 502, retryable: true, message: 'The LLM did not answer' },
  LLM_RATE_LIMITED: { status: 429, retryable: true, message: 'The LLM rate-limited the request' },
  LLM_BAD_OUTPUT: { status: 502, retryable: true, message: 'The LLM answer did not match the enhancement schema' },
  BUDGET_EXCEEDED: { status: 429, retryable: true, message: "The tenant's LLM budget is used up; the ticket waits" },
  LLM_REJECTED: { status: 502, retryable: false, message: 'The LLM rejected the request' },
  WRITEBACK_FAILED: { status: 502, retryable: true, message: 'The helpdesk did not accept the note' },
  WRITEBACK_REJECTED: { status: 502, retryable: false, message: 'The helpdesk rejected the note' },
  WRITEBACK_AUTH_FAILED: {
    status: 502,
    retryable: false,
    message: "The helpdesk's OAuth server refused the target's client or refresh token",
  },
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

const urlUserInfo = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#@]*@/gi;
const secretQueryValue = /([?&][^=&\s#]*(?:token|key|secret|password|passwd|auth|sig|signature)[^=&\s#]*=)[^&\s#]+/gi;

/** Error text that reaches a dead letter, an event or a log: credentials in URLs (user info, secret-looking query values) are cut out. */
export function redactCredentials(text: string): string {
  return text.replace(urlUserInfo, '$1[redacted]@').replace(secretQueryValue, '$1[redacted]');
}

/** Socket-level failures: the peer refused, dropped or never answered the connection. */
const networkCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EHOSTDOWN',
  'ENOTCONN',
  'EAI_AGAIN',
]);
/** SQLSTATE classes that mean the server, not the statement, failed: 08 connection, 53 resources, 57P01–57P03 shutdown. */
const postgresOutageState = /^(08|53|57P0[1-3])/;
/** pg's own connection errors, which carry no code: matched whole, never as a substring of any message. */
const pgConnectionMessages = new Set([
  'Connection terminated unexpectedly',
  'Connection terminated',
  'Connection terminated due to connection timeout',
  'Client was closed and is not queryable',
  'Client has encountered a connection error and is not queryable',
  'timeout exceeded when trying to connect',
  'Query read timeout',
]);
/** ioredis's own errors for a connection that is down or not ready (no code either). */
const ioredisConnectionMessages = new Set([
  'Connection is closed.',
  "Stream isn't writeable and enableOfflineQueue options is false",
  'None of startup nodes is available',
]);
const ioredisErrorNames = new Set(['MaxRetriesPerRequestError', 'ClusterAllFailedError']);
/** Redis replies that mean "not now" rather than "not this command". */
const redisBusyReply = /^(LOADING|MASTERDOWN|CLUSTERDOWN|TRYAGAIN|BUSY )/;

const notTheEventsFault = new Set<ErrorCode>([
  'REDIS_UNAVAILABLE',
  'POSTGRES_UNAVAILABLE',
  'LLM_UNAVAILABLE',
  'LLM_RATE_LIMITED',
  'BUDGET_EXCEEDED',
]);

/**
 * Outages of our own stores, of the LLM provider (down, or limiting its callers), and a tenant's
 * budget wait are not the event's fault: retried without using up its attempts.
 */
export function isOutage(error: StreamdeskError): boolean {
  return notTheEventsFault.has(error.code);
}

type Origin = 'postgres' | 'redis' | undefined;

/**
 * Which of our stores an error says is down, judged by what the error is (its class, SQLSTATE or
 * system error code), never by words that happen to appear in its message.
 */
function outageOrigin(error: unknown): Origin {
  if (!(error instanceof Error)) return undefined;
  const { code, syscall } = error as Error & { code?: unknown; syscall?: unknown };
  if (error instanceof pg.DatabaseError)
    return typeof code === 'string' && postgresOutageState.test(code) ? 'postgres' : undefined;
  if (error instanceof ReplyError) return redisBusyReply.test(error.message) ? 'redis' : undefined;
  if (ioredisErrorNames.has(error.name) || ioredisConnectionMessages.has(error.message)) return 'redis';
  if (pgConnectionMessages.has(error.message)) return 'postgres';
  // A bare socket error (code + syscall, on any address and port) is rejected as it is only by pg:
  // ioredis reports its own errors above, and fetch/undici and the OpenAI SDK wrap it as a `cause`.
  if (typeof code === 'string' && typeof syscall === 'string' && networkCodes.has(code)) return 'postgres';
  return undefined;
}

/** Maps whatever a Redis, Postgres or handler call threw to a coded error. */
export function toStreamdeskError(error: unknown): StreamdeskError {
  if (error instanceof StreamdeskError) return error;
  const message = error instanceof Error ? error.message : String(error);
  const origin = outageOrigin(error);
  if (origin === 'postgres') return new StreamdeskError('POSTGRES_UNAVAILABLE', message, undefined, { cause: error });
  if (origin === 'redis') return new StreamdeskError('REDIS_UNAVAILABLE', message, undefined, { cause: error });
  return new StreamdeskError('HANDLER_FAILED', message, undefined, { cause: error });
}
