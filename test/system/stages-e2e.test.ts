import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRole, type RunningRole } from '../../src/runtime/roles.js';
import { createTestEnv, waitFor, type TestEnv } from '../support/env.js';
import { startFakeHelpdesk, type FakeHelpdesk } from '../support/fake-helpdesk.js';
import { signedHeaders, ticketBody } from '../support/webhook.js';

let t: TestEnv;
let helpdesk: FakeHelpdesk;
let running: RunningRole;
const secrets = new Map<string, string>();

beforeAll(async () => {
  helpdesk = await startFakeHelpdesk();
  // No OPENAI_API_KEY: the offline enhancer answers.
  t = await createTestEnv({ RETRY_BASE_MS: '20', RETRY_MAX_MS: '100' });
  const { registry, db } = t.services;
  secrets.set(
    'acme',
    (
      await registry.create({
        id: 'acme',
        writeback: { type: 'servicedesk-plus', baseUrl: helpdesk.url, authToken: 'acme-sdp-token' },
      })
    ).secret,
  );
  secrets.set('initech', (await registry.create({ id: 'initech' })).secret);
  await db.query(
    "INSERT INTO assets (tenant_id, asset_id, hostname, network, site, kind) VALUES ('acme', 'vpn-gw', 'vpn-gw-01', '10.20.0.0/24', 'HQ', 'vpn-gateway')",
  );
  await db.query(
    "INSERT INTO kb_articles (tenant_id, article_id, title, body) VALUES ('acme', 'KB-1', 'VPN drops with AnyConnect', 'Renew the client certificate.')",
  );
  running = await startRole('all', t.services, {
    listen: false,
    runnerOverrides: { blockMs: 100, tenantRefreshMs: 100 },
  });
});

afterAll(async () => {
  await running?.stop();
  await t?.cleanup();
  await helpdesk?.close();
});

async function send(tenant: string, ticket: Parameters<typeof ticketBody>[0]): Promise<string> {
  const body = ticketBody(ticket);
  const response = await running.app.inject({
    method: 'POST',
    url: `/v1/webhooks/${tenant}/tickets`,
    payload: body,
    headers: signedHeaders(secrets.get(tenant)!, body),
  });
  expect(response.statusCode).toBe(202);
  return (response.json() as { eventId: string }).eventId;
}

type TicketRow = Record<string, unknown> & { status: string };
const writtenBack = (tenant: string, id: string) =>
  waitFor(
    async () => {
      const { rows } = await t.services.db.query<TicketRow>(
        'SELECT * FROM tickets WHERE tenant_id = $1 AND ticket_id = $2',
        [tenant, id],
      );
      if (rows[0]?.status === 'failed') throw new Error(`ticket failed: ${JSON.stringify(rows[0].failure)}`);
      return rows[0]?.status === 'written_back' ? rows[0] : undefined;
    },
    { message: `${tenant}/${id} written back` },
  );

describe('signed webhook to written back', () => {
  it("fills every column: ticket fields, context, enhancement, write-back and each step's time", async () => {
    const eventId = await send('acme', {
      id: 'SR-1001',
      subject: 'VPN down for all users at HQ',
      description: 'AnyConnect cannot reach the gateway 10.20.0.1 since 08:00.',
      priority: 'High',
      category: 'Network',
      requester: { name: 'Ann', email: 'ann@acme.example' },
    });
    const row = await writtenBack('acme', 'SR-1001');
    expect(row).toMatchObject({
      subject: 'VPN down for all users at HQ',
      priority: 'High',
      category: 'Network',
      requester: { name: 'Ann', email: 'ann@acme.example' },
      context: {
        similarTickets: [],
        assets: [{ ip: '10.20.0.1', hostname: 'vpn-gw-01', site: 'HQ', kind: 'vpn-gateway', network: '10.20.0.0/24' }],
        unmatchedIps: [],
        kbArticles: [{ articleId: 'KB-1', title: 'VPN drops with AnyConnect' }],
      },
      enhancement: {
        model: 'offline',
        suggestedCategory: 'VPN',
        suggestedPriority: 'urgent',
        tokens: { prompt: 0, completion: 0 },
        latencyMs: expect.any(Number),
      },
      writeback: { target: 'servicedesk-plus', noteId: expect.stringMatching(/^\d+$/), status: 201 },
      failure: null,
      failed_at: null,
    });
    for (const column of ['received_at', 'context_gathered_at', 'enhanced_at', 'written_back_at', 'updated_at'])
      expect(row[column], column).toBeInstanceOf(Date);
    const times = ['received_at', 'context_gathered_at', 'enhanced_at', 'written_back_at'].map((column) =>
      (row[column] as Date).getTime(),
    );
    expect([...times].sort((a, b) => a - b)).toEqual(times);
    expect(row.version).toBe(4);

    const notes = helpdesk.requests.filter((request) => request.path === '/api/v3/requests/SR-1001/notes');
    expect(notes).toHaveLength(1);
    expect(notes[0]!.headers.authtoken).toBe('acme-sdp-token');

    const archived = await waitFor(async () => {
      const { rows } = await t.services.db.query<{ type: string; correlation_id: string }>(
        'SELECT type, correlation_id FROM events WHERE tenant_id = $1 AND ticket_id = $2 ORDER BY stream_id',
        ['acme', 'SR-1001'],
      );
      return rows.length === 4 ? rows : undefined;
    });
    expect(archived.map((event) => event.type)).toEqual([
      'ticket.received',
      'ticket.context_gathered',
      'ticket.enhanced',
      'ticket.written_back',
    ]);
    expect(new Set(archived.map((event) => event.correlation_id))).toEqual(new Set([eventId]));
    const { rows: writebacks } = await t.services.db.query(
      "SELECT note_id FROM writebacks WHERE tenant_id = 'acme' AND ticket_id = 'SR-1001'",
    );
    expect(writebacks).toEqual([{ note_id: (row.writeback as { noteId: string }).noteId }]);
  });

  it('passes a tenant without a write-back target through written_back, target "none", and finds its earlier tickets', async () => {
    await send('initech', { id: 'I-1', subject: 'Printer jammed on floor 2', description: 'Paper jam again.' });
    await writtenBack('initech', 'I-1');
    await send('initech', { id: 'I-2', subject: 'Printer on floor 2 jammed', description: 'Paper jam in tray 1.' });
    const row = await writtenBack('initech', 'I-2');
    expect(row.writeback).toEqual({ target: 'none', noteId: null, status: null });
    expect(row.enhancement).toMatchObject({ suggestedCategory: 'Printer', model: 'offline' });
    expect(
      (row.context as { similarTickets: { ticketId: string }[] }).similarTickets.map((similar) => similar.ticketId),
    ).toEqual(['I-1']);
  });
});
