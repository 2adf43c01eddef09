import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { StreamdeskError } from '../errors.js';

export const sessionCookieName = 'streamdesk_session';
export const csrfHeaderName = 'x-csrf-token';
const sessionLifetimeMs = 8 * 60 * 60 * 1_000;

/** Sign-in attempts that fail: at most `maxFailures` per client address within `windowMs`. */
export const signInLimits = { maxFailures: 5, windowMs: 15 * 60 * 1_000 } as const;

export type ConsoleSession = { nonce: string; expiresAt: number };

const safeMethods = new Set(['GET', 'HEAD', 'OPTIONS']);

function equalSecrets(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const at = part.indexOf('=');
    if (at > 0 && part.slice(0, at).trim() === name) return part.slice(at + 1).trim();
  }
  return undefined;
}

/**
 * Console sessions, signed rather than stored: the cookie holds an expiry and a random nonce with
 * an HMAC under a key derived from ADMIN_TOKEN, so every ingest instance accepts it and changing the
 * token signs everyone out. The CSRF token is a second HMAC of the nonce, sent by the page in a
 * header on every state-changing request; a cross-site form cannot read it. Signing out revokes the
 * nonce in this process until the session would have expired.
 */
export class ConsoleSessions {
  private readonly key: Buffer;
  private readonly revoked = new Map<string, number>();
  private readonly failures = new Map<string, number[]>();

  constructor(
    private readonly adminToken: string,
    private readonly now: () => number = Date.now,
  ) {
    this.key = createHmac('sha256', adminToken).update('streamdesk console session v1').digest();
  }

  private mac(text: string): string {
    return createHmac('sha256', this.key).update(text).digest('base64url');
  }

  csrfToken(session: ConsoleSession): string {
    return this.mac(`csrf.${session.nonce}`);
  }

  /** Checks the token; throws SIGN_IN_RATE_LIMITED while the address has too many recent failures, UNAUTHORIZED on a wrong token. */
  signIn(
    token: string,
    clientAddress: string,
    reply: FastifyReply,
    secure: boolean,
  ): { session: ConsoleSession; csrfToken: string } {
    const now = this.now();
    const recent = (this.failures.get(clientAddress) ?? []).filter((at) => at > now - signInLimits.windowMs);
    if (recent.length >= signInLimits.maxFailures) {
      const retryAfterMs = recent[0]! + signInLimits.windowMs - now;
      throw new StreamdeskError(
        'SIGN_IN_RATE_LIMITED',
        `Too many failed sign-ins from this address; try again in ${Math.ceil(retryAfterMs / 60_000)} minute(s)`,
        undefined,
        { retryAfterMs },
      );
    }
    if (!equalSecrets(token, this.adminToken)) {
      recent.push(now);
      this.failures.set(clientAddress, recent);
      this.prune(now);
      throw new StreamdeskError('UNAUTHORIZED', 'That token is not the admin token');
    }
    this.failures.delete(clientAddress);
    const session = { nonce: randomBytes(18).toString('base64url'), expiresAt: now + sessionLifetimeMs };
    const value = `${session.expiresAt}.${session.nonce}.${this.mac(`${session.expiresAt}.${session.nonce}`)}`;
    void reply.header('Set-Cookie', this.cookie(value, Math.floor(sessionLifetimeMs / 1_000), secure));
    return { session, csrfToken: this.csrfToken(session) };
  }

  signOut(session: ConsoleSession, reply: FastifyReply, secure: boolean): void {
    this.revoked.set(session.nonce, session.expiresAt);
    void reply.header('Set-Cookie', this.cookie('', 0, secure));
  }

  /** The request's valid session, if its cookie carries one. */
  sessionOf(request: FastifyRequest): ConsoleSession | undefined {
    const value = cookieValue(request.headers.cookie, sessionCookieName);
    const [expires, nonce, mac] = value?.split('.') ?? [];
    if (!expires || !nonce || !mac || !equalSecrets(mac, this.mac(`${expires}.${nonce}`))) return undefined;
    const expiresAt = Number(expires);
    if (!(expiresAt > this.now()) || this.revoked.has(nonce)) return undefined;
    return { nonce, expiresAt };
  }

  /**
   * True when the request is authorised by a console session: GET and HEAD with the cookie alone,
   * anything else with the session's CSRF token in `X-CSRF-Token` too (CSRF_REJECTED without it).
   */
  authorises(request: FastifyRequest): boolean {
    const session = this.sessionOf(request);
    if (!session) return false;
    if (safeMethods.has(request.method)) return true;
    const given = request.headers[csrfHeaderName];
    if (typeof given === 'string' && equalSecrets(given, this.csrfToken(session))) return true;
    throw new StreamdeskError('CSRF_REJECTED');
  }

  private cookie(value: string, maxAgeSeconds: number, secure: boolean): string {
    return `${sessionCookieName}=${value}; Path=/; Max-Age=${maxAgeSeconds}; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`;
  }

  private prune(now: number): void {
    for (const [nonce, until] of this.revoked) if (until <= now) this.revoked.delete(nonce);
    if (this.failures.size < 10_000) return;
    for (const [address, times] of this.failures)
      if (times.every((at) => at <= now - signInLimits.windowMs)) this.failures.delete(address);
  }
}
