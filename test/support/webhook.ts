import { signWebhook } from '../../src/webhook-signature.js';

export type TicketInput = {
  id: string;
  subject: string;
  description: string;
  priority?: string;
  category?: string;
  requester?: { name?: string; email?: string };
};

export function ticketBody(ticket: TicketInput, event: 'ticket.created' | 'ticket.updated' = 'ticket.created'): string {
  return JSON.stringify({ event, ticket });
}

/** Headers that sign `body` for `secret` as a helpdesk would. */
export function signedHeaders(
  secret: string,
  body: string,
  options: { timestamp?: number; deliveryId?: string } = {},
): Record<string, string> {
  const timestamp = String(options.timestamp ?? Math.floor(Date.now() / 1_000));
  return {
    'content-type': 'application/json',
    'x-streamdesk-timestamp': timestamp,
    'x-streamdesk-signature': signWebhook(secret, timestamp, body),
    ...(options.deliveryId ? { 'x-streamdesk-delivery': options.deliveryId } : {}),
  };
}
