import { createServer } from 'node:net';
import { parseArgs } from 'node:util';
import type { Logger } from 'pino';
import type { Config } from '../config/config.js';
import { StreamdeskError } from '../errors.js';
import { signWebhook } from '../webhook-signature.js';
import { createLogger } from '../runtime/logger.js';
import { startRole } from '../runtime/roles.js';
import { openServices, type Services } from '../runtime/services.js';
import { sqlFiles } from '../sql-files.js';
import type { Command } from './command.js';
import { demoArticles, demoAssets, demoHistory, demoNewTickets, type DemoTicket } from './demo-data.js';

const demoSql = sqlFiles(new URL('./sql/', import.meta.url), {
  seedAssets: 'seed-assets',
  seedKbArticles: 'seed-kb-articles',
  demoTickets: 'demo-tickets',
});

export const demoTenantId = 'demo';

export type DemoRow = {
  ticketId: string;
  subject: string;
  status: string;
  category: string | null;
  priority: string | null;
  confidence: number | null;
  summary: string | null;
  /** The enhancer's own time (LLM call or offline rules). */
  enhanceMs: number | null;
  /** Webhook received to written back. */
  pipelineMs: number | null;
  failure: string | null;
};

export type DemoResult = { tenant: string; tenantCreated: boolean; port: number; rows: DemoRow[]; complete: boolean };

export type DemoOptions = {
  out?: (text: string) => void;
  logger?: Logger;
  /** How long to wait for the tickets to be written back (per phase). */
  timeoutMs?: number;
};

type TicketStateRow = {
  ticket_id: string;
  status: string;
  subject: string | null;
  enhancement: {
    suggestedCategory?: string;
    suggestedPriority?: string;
    confidence?: number;
    summary?: string;
    latencyMs?: number;
  } | null;
  failure: { code?: string; stage?: string } | null;
  pipeline_ms: number | null;
};

/** The demo tenant: reused when it exists (the registry still holds its secret), created otherwise. */
async function demoTenant(services: Services): Promise<{ secret: string; created: boolean }> {
  const existing = await services.registry.get(demoTenantId);
  if (existing) return { secret: existing.secret, created: false };
  try {
    const tenant = await services.registry.create({ id: demoTenantId, name: 'Demo Manufacturing' });
    return { secret: tenant.secret, created: true };
  } catch (error) {
    // Another demo created it a moment ago.
    const raced =
      error instanceof StreamdeskError && error.code === 'TENANT_EXISTS'
        ? await services.registry.get(demoTenantId)
        : undefined;
    if (raced) return { secret: raced.secret, created: false };
    throw error;
  }
}

async function seedContextSources(services: Services): Promise<void> {
  await services.db.query(demoSql.seedAssets, [
    demoTenantId,
    demoAssets.map((a) => a.id),
    demoAssets.map((a) => a.hostname),
    demoAssets.map((a) => a.network),
    demoAssets.map((a) => a.site),
    demoAssets.map((a) => a.kind),
  ]);
  await services.db.query(demoSql.seedKbArticles, [
    demoTenantId,
    demoArticles.map((a) => a.id),
    demoArticles.map((a) => a.title),
    demoArticles.map((a) => a.body),
  ]);
}

/** The configured port when it is free, else any free port: the demo must run beside a running streamdesk. */
async function freePort(preferred: number): Promise<number> {
  if (preferred === 0) return 0;
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(0));
    probe.listen(preferred, '127.0.0.1', () => probe.close(() => resolve(preferred)));
  });
}

/** Sends tickets through the real HTTP endpoint, signed as a helpdesk signs them, a few at a time. */
async function sendTickets(
  baseUrl: string,
  secret: string,
  tickets: (DemoTicket & { id: string; deliveryId: string })[],
): Promise<void> {
  const parallel = 5;
  for (let start = 0; start < tickets.length; start += parallel) {
    await Promise.all(
      tickets.slice(start, start + parallel).map(async ({ deliveryId, ...ticket }) => {
        const body = JSON.stringify({ event: 'ticket.created', ticket });
        const timestamp = String(Math.floor(Date.now() / 1_000));
        const response = await fetch(`${baseUrl}/v1/webhooks/${demoTenantId}/tickets`, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'x-streamdesk-timestamp': timestamp,
            'x-streamdesk-signature': signWebhook(secret, timestamp, body),
            'x-streamdesk-delivery': deliveryId,
          },
          body,
        });
        if (response.status !== 202)
          throw new Error(`The webhook answered ${response.status} for ticket ${ticket.id}: ${await response.text()}`);
      }),
    );
  }
}

/** Polls the projected tickets until every one is written back or failed, or the time is up. */
async function waitUntilSettled(
  services: Services,
  ids: string[],
  timeoutMs: number,
): Promise<{ rows: TicketStateRow[]; complete: boolean }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { rows } = await services.db.query<TicketStateRow>(demoSql.demoTickets, [demoTenantId, ids]);
    const settled = rows.filter((row) => row.status === 'written_back' || row.status === 'failed');
    if (settled.length === ids.length) return { rows, complete: true };
    if (Date.now() > deadline) return { rows, complete: false };
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

const cut = (text: string, max: number) => (text.length <= max ? text : `${text.slice(0, max - 1)}…`);

function toDemoRow(id: string, ticket: DemoTicket, row: TicketStateRow | undefined): DemoRow {
  const enhancement = row?.enhancement;
  return {
    ticketId: id,
    subject: ticket.subject,
    status: row?.status ?? 'not received',
    category: enhancement?.suggestedCategory ?? null,
    priority: enhancement?.suggestedPriority ?? null,
    confidence: enhancement?.confidence ?? null,
    summary: enhancement?.summary ?? null,
    enhanceMs: enhancement?.latencyMs ?? null,
    pipelineMs: row?.status === 'written_back' ? row.pipeline_ms : null,
    failure: row?.failure ? `${row.failure.stage ?? '?'}: ${row.failure.code ?? '?'}` : null,
  };
}

/** The results as a plain-text table. */
export function formatTable(rows: DemoRow[]): string {
  const header = ['Ticket', 'Subject', 'Category', 'Priority', 'Conf.', 'Summary', 'Enhance ms', 'Total ms'];
  const cells = rows.map((row) => [
    row.ticketId,
    cut(row.subject, 38),
    row.category ?? '-',
    row.priority ?? '-',
    row.confidence === null ? '-' : row.confidence.toFixed(2),
    row.failure ? `FAILED (${row.failure})` : row.summary ? cut(row.summary, 60) : `(${row.status})`,
    row.enhanceMs === null ? '-' : String(row.enhanceMs),
    row.pipelineMs === null ? '-' : String(row.pipelineMs),
  ]);
  const widths = header.map((title, column) => Math.max(title.length, ...cells.map((line) => line[column]!.length)));
  const numeric = new Set([4, 6, 7]);
  const line = (values: string[]) =>
    values
      .map((value, column) => (numeric.has(column) ? value.padStart(widths[column]!) : value.padEnd(widths[column]!)))
      .join('  ')
      .trimEnd();
  return [line(header), widths.map((width) => '-'.repeat(width)).join('  '), ...cells.map(line)].join('\n');
}

/** Sends the past tickets (a second run skips them) and 20 new ones, waits for the new ones and prints them. */
async function sendAndReport(
  services: Services,
  baseUrl: string,
  secret: string,
  out: (text: string) => void,
  timeoutMs: number,
): Promise<{ rows: DemoRow[]; complete: boolean }> {
  await sendTickets(
    baseUrl,
    secret,
    demoHistory.map((ticket) => ({ ...ticket, deliveryId: `demo-history-${ticket.id}` })),
  );
  const history = await waitUntilSettled(
    services,
    demoHistory.map((ticket) => ticket.id),
    timeoutMs,
  );
  out(`${history.rows.length} past tickets in place${history.complete ? '' : ' (some still in progress)'}`);

  const run = Date.now().toString(36);
  const tickets = demoNewTickets.map((ticket, index) => ({
    ...ticket,
    id: `D${run}-${String(index + 1).padStart(2, '0')}`,
    deliveryId: `demo-${run}-${index + 1}`,
  }));
  const started = Date.now();
  await sendTickets(baseUrl, secret, tickets);
  out(`Sent ${tickets.length} new tickets; waiting for them to be written back…`);
  const result = await waitUntilSettled(
    services,
    tickets.map((ticket) => ticket.id),
    timeoutMs,
  );
  const byId = new Map(result.rows.map((row) => [row.ticket_id, row]));
  const rows = tickets.map((ticket) => toDemoRow(ticket.id, ticket, byId.get(ticket.id)));
  out('');
  out(formatTable(rows));
  out('');
  const done = rows.filter((row) => row.status === 'written_back').length;
  out(
    `${done} of ${rows.length} written back in ${((Date.now() - started) / 1_000).toFixed(1)} s${result.complete ? '' : ` (gave up after ${timeoutMs / 1_000} s)`}. Details: tickets table, tenant "${demoTenantId}".`,
  );
  return { rows, complete: result.complete };
}

/**
 * Seeds the demo tenant (assets, KB articles, 50 past tickets), runs the whole pipeline in this
 * process, sends 20 new tickets through the signed webhook and reports how they were enhanced.
 * Past tickets go through the webhook too (not straight into `tickets`), so everything the demo
 * shows comes from events and survives a projection rebuild; their fixed delivery ids make a
 * second run skip them.
 */
export async function runDemo(config: Config, options: DemoOptions = {}): Promise<DemoResult> {
  const out = options.out ?? ((text: string) => process.stdout.write(`${text}\n`));
  const timeoutMs = options.timeoutMs ?? 180_000;
  const logger =
    options.logger ?? createLogger({ logLevel: config.logLevel === 'info' ? 'warn' : config.logLevel }, 'demo');
  const services = await openServices(config, logger);
  try {
    const { secret, created } = await demoTenant(services);
    out(
      `${created ? 'Created' : 'Reusing'} tenant "${demoTenantId}"; enhancer: ${config.openai.apiKey ? `${config.openai.model} at ${config.openai.baseUrl ?? 'api.openai.com'}` : 'offline rules (set OPENAI_API_KEY to use an LLM)'}`,
    );
    await seedContextSources(services);
    out(`Seeded ${demoAssets.length} assets and ${demoArticles.length} knowledge-base articles`);

    const running = await startRole('all', services, { listen: false });
    try {
      const port = await freePort(config.port);
      await running.app.listen({ port, host: '127.0.0.1' });
      const address = running.app.server.address();
      const boundPort = typeof address === 'object' && address ? address.port : port;
      const baseUrl = `http://127.0.0.1:${boundPort}`;
      out(`Pipeline running in-process; webhooks at ${baseUrl}/v1/webhooks/${demoTenantId}/tickets`);

      const { rows, complete } = await sendAndReport(services, baseUrl, secret, out, timeoutMs);
      return { tenant: demoTenantId, tenantCreated: created, port: boundPort, rows, complete };
    } finally {
      await running.stop();
    }
  } finally {
    await services.close();
  }
}

export const demoCommand: Command = {
  name: 'demo',
  help: [{ usage: ['demo'], summary: ['seed a demo tenant, run 20 tickets through the pipeline, print the results'] }],
  async run(config, args) {
    parseArgs({ args, options: {}, strict: true });
    const result = await runDemo(config);
    return result.complete && result.rows.every((row) => row.status === 'written_back') ? 0 : 1;
  },
};
