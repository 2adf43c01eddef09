import { createHmac, timingSafeEqual } from 'node:crypto';
import { StreamdeskError } from './errors.js';

/** `v1=<hex HMAC-SHA256(secret, timestamp + "." + raw body)>` */
export function signWebhook(secret: string, timestamp: string | number, rawBody: string | Buffer): string {
  return `v1=${createHmac('sha256', secret).update(`${timestamp}.`).update(rawBody).digest('hex')}`;
}

/**
 * Throws a 401 error unless the signature matches the secret, or one of the secrets (during a
 * rotation, the new and the old one), and the timestamp is within the tolerance.
 */
export function verifyWebhookSignature(options: {
  secret: string | readonly string[];
  timestamp: string | undefined;
  signature: string | undefined;
  rawBody: Buffer;
  toleranceSeconds: number;
  nowSeconds?: number;
}): void {
  const { timestamp, signature, rawBody, toleranceSeconds } = options;
  const secrets = typeof options.secret === 'string' ? [options.secret] : options.secret;
  if (!timestamp || !signature)
    throw new StreamdeskError(
      'MISSING_SIGNATURE',
      'The X-Streamdesk-Timestamp and X-Streamdesk-Signature headers are required',
    );
  if (!/^\d{1,12}$/.test(timestamp))
    throw new StreamdeskError('STALE_TIMESTAMP', 'X-Streamdesk-Timestamp must be unix seconds');
  const now = options.nowSeconds ?? Math.floor(Date.now() / 1_000);
  if (Math.abs(now - Number(timestamp)) > toleranceSeconds) {
    throw new StreamdeskError(
      'STALE_TIMESTAMP',
      `X-Streamdesk-Timestamp is more than ${toleranceSeconds} s away from the server's clock`,
    );
  }
  const candidates = signature.split(',').map((candidate) => Buffer.from(candidate.trim()));
  // Every pair is compared, so the time taken does not tell which secret or candidate matched.
  let matches = false;
  for (const secret of secrets) {
    const mac = createHmac('sha256', secret).update(`${timestamp}.`).update(rawBody).digest();
    // Hex is the contract; base64 is what some helpdesk scripting languages' HMAC functions return.
    for (const expected of [Buffer.from(`v1=${mac.toString('hex')}`), Buffer.from(`v1=${mac.toString('base64')}`)]) {
      for (const given of candidates) {
        if (given.length === expected.length && timingSafeEqual(given, expected)) matches = true;
      }
    }
  }
  if (!matches)
    throw new StreamdeskError(
      'INVALID_SIGNATURE',
      'X-Streamdesk-Signature does not match the body signed with the tenant secret',
    );
}
