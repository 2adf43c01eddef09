// @ts-check
// k6 binding of ./ticket.js: signs with k6/crypto. Everything else (body shape, header format) is
// in ./ticket.js, which test/loadtest-signature.test.ts checks against the server's own code.
import { hmac } from 'k6/crypto';
import { deliveryIdFor, signedWebhook, ticketCreatedBody } from './ticket.js';

export { newRunId, parseTenants } from './ticket.js';

/** @type {import('./ticket.js').HmacSha256Hex} */
export function hmacSha256Hex(secret, data) {
  return hmac('sha256', secret, data, 'hex');
}

/**
 * A new, uniquely identified ticket for `tenant`, signed as the helpdesk would sign it.
 * @param {{ tenant: import('./ticket.js').Tenant, runId: string, sequence: number }} input
 * @returns {import('./ticket.js').SignedRequest}
 */
export function signedTicketCreated({ tenant, runId, sequence }) {
  return signedWebhook(hmacSha256Hex, {
    tenant,
    body: ticketCreatedBody({ runId, sequence, tenantId: tenant.id }),
    deliveryId: deliveryIdFor(runId, sequence),
  });
}
