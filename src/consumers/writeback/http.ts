import { StreamdeskError, redactCredentials } from '../../errors.js';
import { retryAfterMs as retryAfterMsOf } from '../retry-after.js';
import { checkTargetAddress, describeUrl as describe, type TargetPolicy } from './target-policy.js';

export type PeerRequest = Readonly<{
  /** Names the peer in error messages, e.g. "ServiceDesk Plus". */
  peer: string;
  url: URL;
  init: RequestInit;
  timeoutMs: number;
  /** Aborted at shutdown. */
  signal: AbortSignal;
  /** Values that must never appear in an error message (tokens, secrets). */
  secrets: readonly string[];
  /** Checked right before the call, after DNS resolution. */
  targetPolicy: TargetPolicy;
  /** Error statuses the caller reads itself (an expired access token's 401, an OAuth error body) instead of an error. */
  returnStatuses?: readonly number[];
}>;

const bodyExcerptChars = 200;

/**
 * POSTs to a helpdesk-side peer and returns its 2xx response (or one of `returnStatuses`). Anything else becomes a coded error:
 * timeouts, connection errors, 5xx, 408 and 429 are retryable (WRITEBACK_FAILED); other answers
 * mean the request itself is wrong and a retry would fail the same way (WRITEBACK_REJECTED).
 */
export async function sendToPeer(request: PeerRequest): Promise<Response> {
  const { peer, url, timeoutMs, signal } = request;
  const redact = (text: string) =>
    redactCredentials(
      request.secrets.reduce((result, secret) => (secret ? result.split(secret).join('[redacted]') : result), text),
    );
  await checkTargetAddress(url, request.targetPolicy);
  let response: Response;
  try {
    response = await fetch(url, {
      ...request.init,
      // A redirect would resend the credentials header to wherever it points: refuse instead of following.
      redirect: 'manual',
      signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]),
    });
  } catch (error) {
    const reason = signal.aborted
      ? 'abandoned at shutdown'
      : error instanceof Error && error.name === 'TimeoutError'
        ? `no answer within ${timeoutMs} ms`
        : `could not connect (${redact(connectionErrorCode(error))})`;
    throw new StreamdeskError('WRITEBACK_FAILED', `${peer} at ${describe(url)}: ${reason}`, undefined, {
      cause: error,
    });
  }
  if (response.ok || request.returnStatuses?.includes(response.status)) return response;
  const excerpt = redact((await response.text().catch(() => '')).slice(0, bodyExcerptChars))
    .replace(/\s+/g, ' ')
    .trim();
  const message = `${peer} answered ${response.status} to POST ${describe(url)}${excerpt ? `: ${excerpt}` : ''}`;
  if (response.status >= 500 || response.status === 408 || response.status === 429) {
    const retryAfterMs = retryAfterMsOf(response.headers);
    throw new StreamdeskError(
      'WRITEBACK_FAILED',
      message,
      undefined,
      retryAfterMs !== undefined ? { retryAfterMs } : {},
    );
  }
  throw new StreamdeskError('WRITEBACK_REJECTED', message);
}

function connectionErrorCode(error: unknown): string {
  const cause = error instanceof Error ? (error.cause as { code?: unknown } | undefined) : undefined;
  if (cause && typeof cause.code === 'string') return cause.code;
  return error instanceof Error ? error.message : String(error);
}
