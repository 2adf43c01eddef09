import { createHash } from 'node:crypto';
import { z } from 'zod';
import { StreamdeskError } from '../../errors.js';
import type { ZohoOAuth } from '../../tenants/registry.js';
import { sendToPeer } from './http.js';
import { describeUrl, type TargetPolicy } from './target-policy.js';

export type TokenRequestOptions = {
  tenant: string;
  timeoutMs: number;
  signal: AbortSignal;
  targetPolicy: TargetPolicy;
};

/** Zoho answers most refusals with 200 and an `error` field; 400/401 are read the same way. */
const tokenAnswer = z.union([
  z.object({
    access_token: z.string().min(1),
    expires_in: z.number().positive().optional(),
    expires_in_sec: z.number().positive().optional(),
  }),
  z.object({ error: z.string().min(1) }),
]);

/** Zoho access tokens live an hour; one without `expires_in` is assumed to, and none is kept longer. */
const maxLifetimeMs = 3_600_000;
/** Renewed this long before it expires, so a note never leaves with a token about to lapse. */
const renewBeforeMs = 120_000;
/** Zoho limits how many access tokens a refresh token may buy in a few minutes ("Access Denied"). */
const rateLimitedRetryMs = 60_000;

const refreshTokenErrors = new Set(['invalid_code', 'invalid_grant', 'invalid_token']);
const clientErrors = new Set(['invalid_client', 'unauthorized_client']);

/** Turns Zoho's `error` into a message an operator can act on; none of it echoes a secret. */
function refusal(error: string, auth: ZohoOAuth, tenant: string): StreamdeskError {
  const where = describeUrl(new URL(auth.accountsUrl));
  const fixTarget = `fix it with: streamdesk tenant update ${tenant} --writeback-json '<target>'`;
  if (/access denied|too many requests/i.test(error)) {
    return new StreamdeskError(
      'WRITEBACK_FAILED',
      `Zoho accounts at ${where} is limiting how often access tokens are issued; trying again later`,
      undefined,
      { retryAfterMs: rateLimitedRetryMs },
    );
  }
  if (refreshTokenErrors.has(error)) {
    return new StreamdeskError(
      'WRITEBACK_AUTH_FAILED',
      `Zoho accounts at ${where} refused the refresh token (${error}): it was revoked, or was issued by another data centre's accounts server. ` +
        `Generate a new one for the self client (scope SDPOnDemand.requests.ALL) and set it with: streamdesk tenant rotate-helpdesk-key ${tenant} --key <refresh token>`,
    );
  }
  if (clientErrors.has(error)) {
    return new StreamdeskError(
      'WRITEBACK_AUTH_FAILED',
      `Zoho accounts at ${where} does not know client id ${auth.clientId} (${error}): check clientId, and that accountsUrl is the accounts server of the data centre where the self client was created; ${fixTarget}`,
    );
  }
  if (error === 'invalid_client_secret') {
    return new StreamdeskError(
      'WRITEBACK_AUTH_FAILED',
      `Zoho accounts at ${where} refused the client secret of client ${auth.clientId} (${error}); ${fixTarget}`,
    );
  }
  const shown = [auth.clientSecret, auth.refreshToken]
    .reduce((text, secret) => text.split(secret).join('[redacted]'), error)
    .replace(/[^\w .:[\]-]/g, '')
    .slice(0, 60);
  return new StreamdeskError(
    'WRITEBACK_AUTH_FAILED',
    `Zoho accounts at ${where} refused to issue an access token (${shown}); check the self client and its refresh token`,
  );
}

/** One access token bought with the refresh token: POST {accountsUrl}/oauth/v2/token, the credentials in the form body. */
async function requestAccessToken(auth: ZohoOAuth, options: TokenRequestOptions, now: number): Promise<AccessToken> {
  const url = new URL('oauth/v2/token', auth.accountsUrl.endsWith('/') ? auth.accountsUrl : `${auth.accountsUrl}/`);
  const response = await sendToPeer({
    peer: 'Zoho accounts',
    url,
    init: {
      method: 'POST',
      headers: { accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded' },
      // The body, not the query string Zoho also accepts: secrets stay out of proxies' access logs.
      body: new URLSearchParams({
        grant_type: 'refresh_token',
        client_id: auth.clientId,
        client_secret: auth.clientSecret,
        refresh_token: auth.refreshToken,
      }).toString(),
    },
    timeoutMs: options.timeoutMs,
    signal: options.signal,
    targetPolicy: options.targetPolicy,
    secrets: [auth.clientSecret, auth.refreshToken],
    returnStatuses: [400, 401, 403],
  });
  const body: unknown = await response.json().catch(() => undefined);
  const parsed = tokenAnswer.safeParse(body);
  if (!parsed.success) {
    const code = response.ok ? 'WRITEBACK_FAILED' : 'WRITEBACK_AUTH_FAILED';
    throw new StreamdeskError(
      code,
      `Zoho accounts answered ${response.status} to POST ${describeUrl(url)} without an access token or an error`,
    );
  }
  if ('error' in parsed.data) throw refusal(parsed.data.error, auth, options.tenant);
  // Older accounts servers gave `expires_in` in milliseconds beside `expires_in_sec`.
  const seconds = parsed.data.expires_in_sec ?? parsed.data.expires_in;
  const lifetimeMs = Math.min(seconds ? seconds * 1_000 : maxLifetimeMs, maxLifetimeMs);
  return { value: parsed.data.access_token, renewAt: now + lifetimeMs - Math.min(renewBeforeMs, lifetimeMs / 2) };
}

type AccessToken = { value: string; renewAt: number };
export type CachedAccessToken = AccessToken & { credentials: string };

/** Where the workers of a deployment share access tokens (Redis), so each tenant buys one per hour, not one per worker. */
export type SharedTokenStore = {
  read(tenant: string): Promise<CachedAccessToken | undefined>;
  write(tenant: string, token: CachedAccessToken): Promise<void>;
};

/** Which credentials a cached token was bought with: an update or a rotation makes the old token unused. */
const fingerprint = (auth: ZohoOAuth) =>
  createHash('sha256')
    .update([auth.accountsUrl, auth.clientId, auth.clientSecret, auth.refreshToken].join('\u0000'))
    .digest('base64url');

/**
 * Access tokens per tenant, held by this process (and the shared store, if any) until shortly
 * before they expire. Concurrent notes of one tenant share one refresh; a token the API turned
 * down (401) is replaced once.
 */
export class ZohoTokenCache {
  private readonly tokens = new Map<string, CachedAccessToken>();
  private readonly refreshing = new Map<string, Promise<AccessToken>>();
  private readonly shared: SharedTokenStore | undefined;
  private readonly clock: () => number;

  constructor(options: { shared?: SharedTokenStore | undefined; clock?: () => number } = {}) {
    this.shared = options.shared;
    this.clock = options.clock ?? Date.now;
  }

  /** A token to send: the cached one while fresh, else one from the shared store, else a new one. */
  async get(auth: ZohoOAuth, options: TokenRequestOptions): Promise<string> {
    const cached = this.tokens.get(options.tenant);
    if (cached && this.usable(cached, fingerprint(auth))) return cached.value;
    return this.refresh(auth, options, undefined);
  }

  /** After a 401 with `rejected`: any other fresh token, else a new one; never `rejected` again. */
  async replace(auth: ZohoOAuth, rejected: string, options: TokenRequestOptions): Promise<string> {
    const cached = this.tokens.get(options.tenant);
    if (cached && cached.value !== rejected && this.usable(cached, fingerprint(auth))) return cached.value;
    this.tokens.delete(options.tenant);
    return this.refresh(auth, options, rejected);
  }

  private usable(token: CachedAccessToken | undefined, credentials: string): token is CachedAccessToken {
    return token !== undefined && token.credentials === credentials && token.renewAt > this.clock();
  }

  private async refresh(auth: ZohoOAuth, options: TokenRequestOptions, rejected: string | undefined): Promise<string> {
    const credentials = fingerprint(auth);
    // Notes turned down with the same token share one refresh; they never join one that may hand it out again.
    const key = [
      options.tenant,
      credentials,
      rejected ? createHash('sha256').update(rejected).digest('base64url') : '',
    ].join('\u0000');
    let running = this.refreshing.get(key);
    if (!running) {
      running = this.obtain(auth, options, credentials, rejected).finally(() => this.refreshing.delete(key));
      this.refreshing.set(key, running);
    }
    return (await running).value;
  }

  private async obtain(
    auth: ZohoOAuth,
    options: TokenRequestOptions,
    credentials: string,
    rejected: string | undefined,
  ): Promise<AccessToken> {
    const shared = await this.shared?.read(options.tenant);
    if (this.usable(shared, credentials) && shared.value !== rejected) {
      this.tokens.set(options.tenant, shared);
      return shared;
    }
    const token = { ...(await requestAccessToken(auth, options, this.clock())), credentials };
    this.tokens.set(options.tenant, token);
    await this.shared?.write(options.tenant, token);
    return token;
  }
}
