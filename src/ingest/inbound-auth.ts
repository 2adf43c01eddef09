import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { StreamdeskError } from '../errors.js';
import { acceptedSecrets, type InboundAuth, type Tenant } from '../tenants/registry.js';
import { verifyWebhookSignature } from '../webhook-signature.js';

/** How a webhook proved itself: signed requests can be told apart by their signature, tokens cannot. */
export type Authenticated = { kind: 'signed'; timestamp: string } | { kind: 'token' };

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

const digest = (value: string) => createHash('sha256').update(value).digest();

/** Constant-time: equal-length digests are compared, and every accepted secret is tried. */
function matchesAny(given: string, secrets: readonly string[]): boolean {
  const givenDigest = digest(given);
  let matches = false;
  for (const secret of secrets) if (timingSafeEqual(givenDigest, digest(secret))) matches = true;
  return matches;
}

const invalidCredentials = () =>
  new StreamdeskError('INVALID_CREDENTIALS', 'The token or Basic credentials do not match this tenant');

/**
 * Authenticates a webhook for the tenant in its URL. The answer depends only on what the request
 * carries and whether it verifies: an unknown tenant is refused exactly like a wrong credential
 * (same status, code and message), after the same work, so tenant ids cannot be probed.
 */
export function authenticateWebhook(options: {
  tenantId: string;
  tenant: Tenant | undefined;
  headers: IncomingHttpHeaders;
  rawBody: Buffer;
  toleranceSeconds: number;
}): Authenticated {
  const { tenantId, tenant, headers } = options;
  // An unknown tenant, or one in another mode, is checked against a secret nobody knows.
  const secretsFor = (mode: InboundAuth) =>
    tenant && tenant.inboundAuth === mode ? acceptedSecrets(tenant) : [randomBytes(24).toString('hex')];

  const timestamp = header(headers, 'x-streamdesk-timestamp');
  const signature = header(headers, 'x-streamdesk-signature');
  if (timestamp !== undefined || signature !== undefined) {
    verifyWebhookSignature({
      secret: secretsFor('hmac'),
      timestamp,
      signature,
      rawBody: options.rawBody,
      toleranceSeconds: options.toleranceSeconds,
    });
    return { kind: 'signed', timestamp: timestamp ?? '' };
  }

  const authorization = header(headers, 'authorization')?.trim();
  const basic = authorization && /^basic\s+/i.test(authorization) ? authorization.replace(/^basic\s+/i, '') : undefined;
  if (basic !== undefined) {
    const decoded = /^[A-Za-z0-9+/]+={0,2}$/.test(basic) ? Buffer.from(basic, 'base64').toString('utf8') : '';
    const colon = decoded.indexOf(':');
    const user = colon >= 0 ? decoded.slice(0, colon) : '';
    const password = colon >= 0 ? decoded.slice(colon + 1) : '';
    const userMatches = matchesAny(user, [tenantId]);
    if (!(matchesAny(password, secretsFor('basic')) && userMatches)) throw invalidCredentials();
    return { kind: 'token' };
  }

  const bearer =
    authorization && /^bearer\s+/i.test(authorization) ? authorization.replace(/^bearer\s+/i, '') : undefined;
  const token = header(headers, 'x-streamdesk-token') ?? bearer;
  if (token !== undefined) {
    if (!matchesAny(token.trim(), secretsFor('token'))) throw invalidCredentials();
    return { kind: 'token' };
  }
  throw new StreamdeskError(
    'MISSING_SIGNATURE',
    'No credentials: sign the request (X-Streamdesk-Timestamp and X-Streamdesk-Signature) or send the tenant token (X-Streamdesk-Token, Authorization: Bearer, or HTTP Basic)',
  );
}
