import { signWebhook } from '../../src/webhook-signature.js';

const subjects = [
  'VPN down',
  'Printer offline',
  'Mailbox full',
  'Cannot log in',
  'Slow network share',
  'Laptop will not boot',
];
let timestamp = '';
let timestampSecond = -1;

/** A signed ticket.created webhook with ticket id and delivery id `id`, as a helpdesk sends it. */
export function signedTicket(secret: string, id: string): { body: string; headers: Record<string, string> } {
  const second = Math.floor(Date.now() / 1_000);
  if (second !== timestampSecond) {
    timestampSecond = second;
    timestamp = String(second);
  }
  const n = Number(id.slice(id.lastIndexOf('-') + 1)) || 0;
  const body = JSON.stringify({
    event: 'ticket.created',
    ticket: {
      id,
      subject: `${subjects[n % subjects.length]} (${id})`,
      description: `User reports a problem since 9:00; host 10.${n % 250}.${(n >> 8) % 250}.15 does not answer. Ticket ${id}.`,
      priority: 'medium',
      requester: { name: 'Bench User', email: 'bench@example.com' },
    },
  });
  return {
    body,
    headers: {
      'content-type': 'application/json',
      'x-streamdesk-timestamp': timestamp,
      'x-streamdesk-signature': signWebhook(secret, timestamp, body),
      'x-streamdesk-delivery': `bench-${id}`,
    },
  };
}
