import { signWebhook } from '../../src/webhook-signature.js';

type WebhookTicket = { id: string; subject: string; description: string; priority?: string; category?: string };
/** loadtest/lib/ticket.js: JavaScript typed by JSDoc (checked by `tsc -p loadtest`), outside this project's tsconfig. */
export const { ticketCreatedBody } = (await import(new URL('../../loadtest/lib/ticket.js', import.meta.url).href)) as {
  ticketCreatedBody(input: { runId: string; sequence: number; tenantId: string }): {
    event: string;
    ticket: WebhookTicket & Record<string, unknown>;
  };
};

/**
 * The ticket texts of a load: `varied` takes the k6 scripts' incident templates (VPN, printers,
 * mailboxes, … with IP addresses and priorities), as a helpdesk's mix; `repetitive` gives every ticket
 * nearly the same words, so each matches every earlier one: the similar-ticket search's worst case.
 */
export type TicketTexts = 'varied' | 'repetitive';

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

function repetitiveBody(id: string, n: number): string {
  return JSON.stringify({
    event: 'ticket.created',
    ticket: {
      id,
      subject: `${subjects[n % subjects.length]} (${id})`,
      description: `User reports a problem since 9:00; host 10.${n % 250}.${(n >> 8) % 250}.15 does not answer. Ticket ${id}.`,
      priority: 'medium',
      requester: { name: 'Bench User', email: 'bench@example.com' },
    },
  });
}

function variedBody(id: string, n: number): string {
  const body = ticketCreatedBody({ runId: 'bench', sequence: n, tenantId: 'bench' });
  return JSON.stringify({ ...body, ticket: { ...body.ticket, id } });
}

/** A signed ticket.created webhook with ticket id and delivery id `id`, as a helpdesk sends it. */
export function signedTicket(
  secret: string,
  id: string,
  texts: TicketTexts = 'varied',
): { body: string; headers: Record<string, string> } {
  const second = Math.floor(Date.now() / 1_000);
  if (second !== timestampSecond) {
    timestampSecond = second;
    timestamp = String(second);
  }
  const n = Number(id.slice(id.lastIndexOf('-') + 1)) || 0;
  const body = texts === 'varied' ? variedBody(id, n) : repetitiveBody(id, n);
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
