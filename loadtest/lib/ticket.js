// @ts-check
// The webhook contract as a helpdesk speaks it: ticket bodies, tenant list parsing and the
// signature header. Pure JavaScript with no k6 import, so the same code runs under k6 (through
// ./sign.js, which supplies k6/crypto's HMAC) and in Node's test runner (which supplies
// node:crypto's), and a test can prove that the server accepts exactly what k6 sends.

/** @typedef {{ id: string, secret: string }} Tenant */
/**
 * HMAC-SHA256 of `data` keyed with `secret`, as lower-case hex.
 * @typedef {(secret: string, data: string) => string} HmacSha256Hex
 */
/**
 * @typedef {{
 *   id: string,
 *   subject: string,
 *   description: string,
 *   priority?: string,
 *   category?: string,
 *   requester?: { name?: string, email?: string },
 *   createdAt?: string,
 * }} Ticket
 */
/** @typedef {{ event: 'ticket.created' | 'ticket.updated', ticket: Ticket }} WebhookBody */
/** @typedef {{ path: string, body: string, headers: Record<string, string> }} SignedRequest */

/** Same rule as the server (src/streams/keys.ts). */
export const tenantIdPattern = /^[a-z0-9][a-z0-9-]{0,62}$/;
/** Same rule as the server's X-Streamdesk-Delivery check. */
export const deliveryIdPattern = /^[A-Za-z0-9._:-]{1,200}$/;

/**
 * Parses `TENANTS="acme:whsec_abc,globex:whsec_def"` into tenants.
 * @param {string} spec
 * @returns {Tenant[]}
 */
export function parseTenants(spec) {
  const entries = spec
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
  if (entries.length === 0)
    throw new Error(
      'TENANTS is empty: set TENANTS="acme:<secret>,globex:<secret>" with the secrets printed by `streamdesk tenant create`',
    );
  const seen = new Set();
  return entries.map((entry) => {
    const colon = entry.indexOf(':');
    const id = colon < 0 ? entry : entry.slice(0, colon);
    const secret = colon < 0 ? '' : entry.slice(colon + 1);
    if (!tenantIdPattern.test(id))
      throw new Error(`TENANTS: "${id}" is not a tenant id (expected ^[a-z0-9][a-z0-9-]{0,62}$)`);
    if (secret === '') throw new Error(`TENANTS: tenant "${id}" has no secret (expected ${id}:<secret>)`);
    if (seen.has(id)) throw new Error(`TENANTS: tenant "${id}" is listed twice`);
    seen.add(id);
    return { id, secret };
  });
}

/** @param {string} tenantId */
export function webhookPath(tenantId) {
  return `/v1/webhooks/${tenantId}/tickets`;
}

/**
 * `v1=<hex HMAC-SHA256(secret, timestamp + "." + raw body)>`, the X-Streamdesk-Signature value.
 * @param {HmacSha256Hex} hmacSha256Hex
 * @param {string} secret
 * @param {number | string} timestamp unix seconds
 * @param {string} rawBody the exact bytes that are sent
 */
export function signatureHeader(hmacSha256Hex, secret, timestamp, rawBody) {
  return `v1=${hmacSha256Hex(secret, `${timestamp}.${rawBody}`)}`;
}

/**
 * Serialises `body` once and signs those very bytes for `tenant`.
 * @param {HmacSha256Hex} hmacSha256Hex
 * @param {{ tenant: Tenant, body: WebhookBody, deliveryId: string, timestamp?: number }} request
 * @returns {SignedRequest}
 */
export function signedWebhook(hmacSha256Hex, { tenant, body, deliveryId, timestamp = Math.floor(Date.now() / 1000) }) {
  if (!deliveryIdPattern.test(deliveryId))
    throw new Error(`delivery id "${deliveryId}" does not match ${deliveryIdPattern}`);
  const rawBody = JSON.stringify(body);
  return {
    path: webhookPath(tenant.id),
    body: rawBody,
    headers: {
      'Content-Type': 'application/json',
      'X-Streamdesk-Timestamp': String(timestamp),
      'X-Streamdesk-Signature': signatureHeader(hmacSha256Hex, tenant.secret, timestamp, rawBody),
      'X-Streamdesk-Delivery': deliveryId,
    },
  };
}

/** A short id for one load-test run, so that ticket and delivery ids never repeat across runs. */
export function newRunId() {
  return `${Date.now().toString(36)}${Math.floor(Math.random() * 36 ** 4)
    .toString(36)
    .padStart(4, '0')}`;
}

// Ticket texts modelled on what managed-service helpdesks receive; several mention IP addresses,
// which the context stage looks up in the tenant's asset inventory.
/** @type {readonly { subject: string, description: string, category: string, priority: string }[]} */
const templates = [
  {
    subject: 'VPN drops every few minutes',
    description:
      'Since this morning the VPN client disconnects roughly every five minutes. Gateway 10.20.0.1 answers ping, but the tunnel renegotiates and Teams calls drop. Started after the client update last night.',
    category: 'Network',
    priority: 'high',
  },
  {
    subject: 'Outlook keeps asking for my password',
    description:
      'Outlook prompts for credentials again and again even though I type the right password. Webmail works fine. I changed my password on Monday.',
    category: 'Email',
    priority: 'medium',
  },
  {
    subject: 'Printer on 2nd floor shows offline',
    description:
      'The HP printer by the kitchen (192.168.10.45) shows offline for everyone on the floor. Power cycled it, display says "Ready". Jobs stay in the queue.',
    category: 'Printing',
    priority: 'low',
  },
  {
    subject: 'Cannot open the finance share',
    description:
      'Access denied when opening \\\\fs01\\finance since 09:10. Colleagues in accounting have the same problem. Month-end close is today, please hurry.',
    category: 'File services',
    priority: 'urgent',
  },
  {
    subject: 'High CPU on database server',
    description:
      'Monitoring alerts: CPU above 95 % for 20 minutes on db02 (10.0.4.12). The ERP is very slow for all users. No deployment was made today as far as we know.',
    category: 'Servers',
    priority: 'urgent',
  },
  {
    subject: 'New starter needs an account',
    description:
      'Please create a Windows and Microsoft 365 account for our new colleague starting Monday in Sales, same groups as the rest of the sales team, and a laptop if one is available.',
    category: 'Accounts',
    priority: 'medium',
  },
  {
    subject: 'Laptop stuck on boot after update',
    description:
      "My laptop shows the spinning dots after last night's Windows update and never reaches the login screen. Tried restarting three times. BitLocker key might be needed.",
    category: 'Endpoint',
    priority: 'high',
  },
  {
    subject: 'Suspicious email with invoice attachment',
    description:
      'Several people received an email "Overdue invoice #4471" from a look-alike domain with a .zip attachment. One user may have opened it on 172.16.8.23. Please advise.',
    category: 'Security',
    priority: 'urgent',
  },
  {
    subject: 'Wi-Fi very slow in meeting room B',
    description:
      'Video calls freeze in meeting room B; speed test shows 2 Mbit/s while the rest of the office gets 200. Access point 10.20.3.7 is mounted above the door.',
    category: 'Network',
    priority: 'medium',
  },
  {
    subject: 'Website returns 502 Bad Gateway',
    description:
      'Our public website has answered 502 Bad Gateway for about 10 minutes. The reverse proxy at 203.0.113.20 is up; the app server behind it at 10.0.5.30 may be down.',
    category: 'Web',
    priority: 'urgent',
  },
];

/** @type {readonly [string, string][]} */
const requesters = [
  ['Ann', 'Miller'],
  ['José', 'Álvarez'],
  ['Priya', 'Natarajan'],
  ['Tom', "O'Neill"],
  ['Zoë', 'Schmidt'],
  ['Kenji', 'Watanabe'],
];

/**
 * A realistic `ticket.created` body. Deterministic in its inputs; `sequence` picks the text and
 * makes the ticket id unique within the run.
 * @param {{ runId: string, sequence: number, tenantId: string, now?: Date }} input
 * @returns {WebhookBody}
 */
export function ticketCreatedBody({ runId, sequence, tenantId, now = new Date() }) {
  // k6 before v0.53 compiles scripts as ES2018: no `??`, `?.` or `catch {` here.
  const template = templates[sequence % templates.length] || templates[0];
  const requester = requesters[sequence % requesters.length] || requesters[0];
  if (!template || !requester) throw new Error('ticket templates are empty');
  const [first, last] = requester;
  const mailbox = `${first}.${last}`
    .normalize('NFD')
    .replace(/[^A-Za-z.]/g, '')
    .toLowerCase();
  return {
    event: 'ticket.created',
    ticket: {
      id: `LT-${runId}-${sequence}`,
      subject: template.subject,
      description: `${template.description}\n\nReported through the load test run ${runId}, ticket ${sequence}.`,
      priority: template.priority,
      category: template.category,
      requester: { name: `${first} ${last}`, email: `${mailbox}@${tenantId}.example.com` },
      createdAt: now.toISOString(),
    },
  };
}

/**
 * The delivery id a helpdesk would send with the webhook; unique per run and sequence.
 * @param {string} runId
 * @param {number} sequence
 */
export function deliveryIdFor(runId, sequence) {
  return `k6-${runId}-${sequence}`;
}
