import type { InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OverviewSource } from '../../src/console/overview.js';
import { signInLimits } from '../../src/console/session.js';
import { startRole, type RunningRole } from '../../src/runtime/roles.js';
import { runCli } from '../support/child.js';
import { createTestEnv, waitFor, type TestEnv } from '../support/env.js';
import { appendEvent, receivedEvent } from '../support/events.js';
import { signedHeaders, ticketBody, type TicketInput } from '../support/webhook.js';

let t: TestEnv;
let running: RunningRole;
let secret: string;
const adminToken = 'test-admin-token-0123456789';
const bearer = { authorization: `Bearer ${adminToken}` };

beforeAll(async () => {
  t = await createTestEnv({ RETRY_BASE_MS: '10', RETRY_MAX_MS: '50', JAEGER_UI_URL: 'http://jaeger.example:16686/' });
  secret = (await t.services.registry.create({ id: 'ops' })).secret;
  await t.services.registry.create({ id: 'quiet' });
  running = await startRole('all', t.services, {
    listen: false,
    runnerOverrides: { blockMs: 50, tenantRefreshMs: 50 },
  });
});

afterAll(async () => {
  await running?.stop();
  await t?.cleanup();
});

const inject = (options: InjectOptions) => running.app.inject(options);

async function signIn(remoteAddress = '127.0.0.1'): Promise<{ cookie: string; csrf: string; setCookie: string }> {
  const response = await inject({
    method: 'POST',
    url: '/console/api/session',
    payload: { token: adminToken },
    remoteAddress,
  });
  expect(response.statusCode).toBe(200);
  const setCookie = String(response.headers['set-cookie']);
  return { setCookie, cookie: setCookie.split(';')[0]!, csrf: response.json().csrfToken as string };
}

async function send(ticket: TicketInput): Promise<void> {
  const body = ticketBody(ticket);
  const response = await inject({
    method: 'POST',
    url: '/v1/webhooks/ops/tickets',
    payload: body,
    headers: signedHeaders(secret, body),
  });
  expect(response.statusCode).toBe(202);
}

const settled = (ids: string[]) =>
  waitFor(
    async () => {
      const { rows } = await t.services.db.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM tickets WHERE tenant_id = 'ops' AND ticket_id = ANY($1) AND status = 'written_back'",
        [ids],
      );
      return rows[0]!.n === ids.length;
    },
    { message: `${ids.join(', ')} written back` },
  );

describe('console sign-in and session', () => {
  it('serves the page to anyone, with a policy that loads nothing from elsewhere', async () => {
    const page = await inject({ method: 'GET', url: '/console' });
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('/console/assets/console.js');
    expect(page.headers['content-security-policy']).toContain("default-src 'self'");
    const script = await inject({ method: 'GET', url: '/console/assets/console.js' });
    expect(script.statusCode).toBe(200);
    expect(script.headers['content-type']).toContain('text/javascript');
    expect(script.body).not.toMatch(/https?:\/\/(unpkg|cdn|esm\.sh)/);
  });

  it('sets an HttpOnly, SameSite=Strict cookie, Secure when the request came over HTTPS', async () => {
    const { setCookie } = await signIn();
    expect(setCookie).toMatch(/^streamdesk_session=[^;]+; Path=\/; Max-Age=\d+; HttpOnly; SameSite=Strict$/);
    const overHttps = await inject({
      method: 'POST',
      url: '/console/api/session',
      payload: { token: adminToken },
      headers: { 'x-forwarded-proto': 'https' },
    });
    expect(String(overHttps.headers['set-cookie'])).toMatch(/; HttpOnly; SameSite=Strict; Secure$/);
  });

  it('lets a session read, refuses its changes without the CSRF token, and ends on sign-out', async () => {
    const { cookie, csrf } = await signIn();
    expect((await inject({ method: 'GET', url: '/v1/admin/tenants' })).statusCode).toBe(401);
    expect((await inject({ method: 'GET', url: '/v1/admin/tenants', headers: { cookie } })).statusCode).toBe(200);
    const session = await inject({ method: 'GET', url: '/console/api/session', headers: { cookie } });
    expect(session.json().csrfToken).toBe(csrf);

    const forged = await inject({
      method: 'POST',
      url: '/v1/admin/tenants/ops/dlq/redrive',
      headers: { cookie },
      payload: {},
    });
    expect(forged.statusCode).toBe(403);
    expect(forged.json().error.code).toBe('CSRF_REJECTED');
    const wrongToken = await inject({
      method: 'PUT',
      url: '/v1/admin/tenants/ops/assets/x',
      headers: { cookie, 'x-csrf-token': `${csrf}x` },
      payload: { hostname: 'h', network: '10.0.0.1' },
    });
    expect(wrongToken.json().error.code).toBe('CSRF_REJECTED');
    const allowed = await inject({
      method: 'POST',
      url: '/v1/admin/tenants/ops/dlq/redrive',
      headers: { cookie, 'x-csrf-token': csrf },
      payload: {},
    });
    expect(allowed.json()).toEqual({ redriven: 0, missing: [] });

    const tampered = cookie.replace(/.$/, (char) => (char === 'A' ? 'B' : 'A'));
    expect((await inject({ method: 'GET', url: '/v1/admin/tenants', headers: { cookie: tampered } })).statusCode).toBe(
      401,
    );

    expect(
      (await inject({ method: 'DELETE', url: '/console/api/session', headers: { cookie } })).json().error.code,
    ).toBe('CSRF_REJECTED');
    const signOut = await inject({
      method: 'DELETE',
      url: '/console/api/session',
      headers: { cookie, 'x-csrf-token': csrf },
    });
    expect(signOut.statusCode).toBe(204);
    expect(String(signOut.headers['set-cookie'])).toContain('Max-Age=0');
    expect((await inject({ method: 'GET', url: '/v1/admin/tenants', headers: { cookie } })).statusCode).toBe(401);
  });

  it('rate-limits failed sign-ins per address, even with the right token afterwards', async () => {
    const address = '192.0.2.7';
    for (let attempt = 0; attempt < signInLimits.maxFailures; attempt++) {
      const wrong = await inject({
        method: 'POST',
        url: '/console/api/session',
        payload: { token: 'not-the-token' },
        remoteAddress: address,
      });
      expect(wrong.statusCode).toBe(401);
    }
    const limited = await inject({
      method: 'POST',
      url: '/console/api/session',
      payload: { token: adminToken },
      remoteAddress: address,
    });
    expect(limited.statusCode).toBe(429);
    expect(limited.json().error.code).toBe('SIGN_IN_RATE_LIMITED');
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(60);
    expect(limited.headers['set-cookie']).toBeUndefined();
    await signIn('192.0.2.8');
  });
});

describe('ticket listing', () => {
  it('pages newest first and filters by status, time range and text, in the API and the CLI', async () => {
    const before = new Date().toISOString();
    await send({ id: 'L-1', subject: 'Printer jammed on floor 2', description: 'Paper jam in tray 2' });
    await settled(['L-1']);
    await send({ id: 'L-2', subject: 'VPN drops every hour', description: 'AnyConnect disconnects' });
    await send({ id: 'L-3', subject: 'Printer offline', description: 'The label printer shows offline' });
    await settled(['L-2', 'L-3']);

    const ids: string[] = [];
    let cursor: string | null = null;
    do {
      const response = await inject({
        method: 'GET',
        url: `/v1/admin/tenants/ops/tickets?limit=2${cursor ? `&cursor=${cursor}` : ''}`,
        headers: bearer,
      });
      expect(response.statusCode).toBe(200);
      const page = response.json() as { tickets: { ticketId: string }[]; nextCursor: string | null };
      expect(page.tickets.length).toBeLessThanOrEqual(2);
      ids.push(...page.tickets.map((ticket) => ticket.ticketId));
      cursor = page.nextCursor;
    } while (cursor);
    expect(ids.filter((id) => id.startsWith('L-'))).toEqual(['L-3', 'L-2', 'L-1']);

    const list = async (query: string) =>
      (
        (await inject({ method: 'GET', url: `/v1/admin/tenants/ops/tickets?${query}`, headers: bearer })).json() as {
          tickets: { ticketId: string }[];
        }
      ).tickets.map((ticket) => ticket.ticketId);
    expect(await list('q=printer')).toEqual(['L-3', 'L-1']);
    expect(await list('q=printer%20-offline')).toEqual(['L-1']);
    expect(await list('q=L-2')).toEqual(['L-2']);
    expect(await list('status=written_back&q=vpn')).toEqual(['L-2']);
    expect(await list('status=failed')).toEqual([]);
    expect(await list(`to=${encodeURIComponent(before)}`)).toEqual([]);
    expect(await list(`from=${encodeURIComponent(before)}&q=printer`)).toEqual(['L-3', 'L-1']);

    const bad = await inject({
      method: 'GET',
      url: '/v1/admin/tenants/ops/tickets?status=lost&from=yesterday',
      headers: bearer,
    });
    expect(bad.statusCode).toBe(400);
    expect(
      bad
        .json()
        .error.details.map((detail: { path: string }) => detail.path)
        .sort(),
    ).toEqual(['from', 'status']);
    expect(
      (await inject({ method: 'GET', url: '/v1/admin/tenants/ops/tickets?cursor=nonsense', headers: bearer }))
        .statusCode,
    ).toBe(400);
    expect(
      (await inject({ method: 'GET', url: '/v1/admin/tenants/nobody/tickets', headers: bearer })).json().error.code,
    ).toBe('UNKNOWN_TENANT');

    const cli = await runCli(['tickets', 'search', '--tenant', 'ops', 'printer', '--json'], t.env);
    expect(cli.stderr).toBe('');
    expect(JSON.parse(cli.stdout).tickets.map((ticket: { ticketId: string }) => ticket.ticketId)).toEqual([
      'L-3',
      'L-1',
    ]);
  });

  it('shows a ticket with its archived events and their trace context', async () => {
    await settled(['L-1']);
    const detail = await waitFor(async () => {
      const found = (
        await inject({ method: 'GET', url: '/v1/admin/tenants/ops/tickets/L-1', headers: bearer })
      ).json() as { events: { traceparent: string }[] };
      return found.events.length === 4 ? found : undefined;
    });
    expect(detail.events[0]!.traceparent).toMatch(/^00-[0-9a-f]{32}-/);
    expect((await inject({ method: 'GET', url: '/v1/admin/console-settings', headers: bearer })).json()).toEqual({
      jaegerUiUrl: 'http://jaeger.example:16686',
    });
  });
});

describe('context data', () => {
  const csv = [
    'id,hostname,network,site,kind',
    'fw-1,fw01,10.50.0.1/32,HQ,firewall',
    'lan-hq,hq-core,10.50.0.0/16,HQ,network',
    'bad-net,web01,10.50.1.1/24,HQ,server',
    ',nameless,10.0.0.1,,',
    '"quoted, id",printer "A",2001:db8::/32,"Site, B",printer',
    'fw-1,fw01-again,10.50.0.2,HQ,firewall',
    'short,only-two',
  ].join('\r\n');

  it('imports valid rows, reports each bad row with why, and upserts by id', async () => {
    const dry = await inject({
      method: 'POST',
      url: '/v1/admin/tenants/ops/assets/import?dryRun=true',
      headers: { ...bearer, 'content-type': 'text/csv' },
      payload: csv,
    });
    expect(dry.json()).toMatchObject({ received: 7, inserted: 0, updated: 0, dryRun: true });
    expect((await t.services.db.query("SELECT 1 FROM assets WHERE tenant_id = 'ops'")).rowCount).toBe(0);

    const imported = await inject({
      method: 'POST',
      url: '/v1/admin/tenants/ops/assets/import',
      headers: { ...bearer, 'content-type': 'text/csv' },
      payload: csv,
    });
    expect(imported.statusCode).toBe(200);
    const result = imported.json();
    expect(result).toMatchObject({ received: 7, inserted: 3, updated: 0, dryRun: false });
    expect(result.errors).toEqual([
      {
        row: 3,
        line: 4,
        id: 'bad-net',
        messages: ['network 10.50.1.1/24 has bits set to the right of its /24 prefix; the network is 10.50.1.0/24'],
      },
      { row: 4, line: 5, messages: ['id is required'] },
      { row: 6, line: 7, id: 'fw-1', messages: ['id "fw-1" already appears on row 1'] },
      { row: 7, line: 8, id: 'short', messages: ['the row has 2 fields, the header has 5'] },
    ]);

    const json = JSON.stringify([
      { id: 'fw-1', hostname: 'fw01-renamed', network: '10.50.0.1' },
      { id: 7, hostname: 'numbered', network: '192.0.2.0/24', site: null },
      { hostname: 'no id', network: 'not-an-ip' },
    ]);
    const upserted = (
      await inject({
        method: 'POST',
        url: '/v1/admin/tenants/ops/assets/import',
        headers: { ...bearer, 'content-type': 'application/json' },
        payload: json,
      })
    ).json();
    expect(upserted).toMatchObject({ received: 3, inserted: 1, updated: 1 });
    expect(upserted.errors).toEqual([
      {
        row: 3,
        messages: ['id is required', 'network "not-an-ip" is not an IP address or a CIDR network such as 10.20.0.0/16'],
      },
    ]);

    const listed = (
      await inject({ method: 'GET', url: '/v1/admin/tenants/ops/assets?q=fw01', headers: bearer })
    ).json();
    expect(listed).toMatchObject({
      total: 1,
      items: [{ id: 'fw-1', hostname: 'fw01-renamed', network: '10.50.0.1/32', site: null, kind: null }],
    });
    const quoted = (
      await inject({ method: 'GET', url: '/v1/admin/tenants/ops/assets?q=site,%20b', headers: bearer })
    ).json();
    expect(quoted.items).toEqual([
      expect.objectContaining({ id: 'quoted, id', hostname: 'printer "A"', network: '2001:db8::/32', site: 'Site, B' }),
    ]);

    const missingColumn = await inject({
      method: 'POST',
      url: '/v1/admin/tenants/ops/assets/import',
      headers: { ...bearer, 'content-type': 'text/csv' },
      payload: 'id,host\nx,y',
    });
    expect(missingColumn.statusCode).toBe(400);
    expect(missingColumn.json().error.message).toContain('missing column(s) hostname, network');
  });

  it('edits and deletes one asset or article, and imports articles from CSV and the CLI', async () => {
    const edited = await inject({
      method: 'PUT',
      url: '/v1/admin/tenants/ops/assets/lan-hq',
      headers: bearer,
      payload: { hostname: 'hq-core-02', network: '10.50.0.0/16', site: 'HQ' },
    });
    expect(edited.statusCode).toBe(200);
    expect(edited.json()).toEqual({
      id: 'lan-hq',
      hostname: 'hq-core-02',
      network: '10.50.0.0/16',
      site: 'HQ',
      kind: null,
    });
    const invalid = await inject({
      method: 'PUT',
      url: '/v1/admin/tenants/ops/assets/lan-hq',
      headers: bearer,
      payload: { hostname: '' },
    });
    expect(invalid.statusCode).toBe(400);
    expect(
      (await inject({ method: 'DELETE', url: '/v1/admin/tenants/ops/assets/lan-hq', headers: bearer })).statusCode,
    ).toBe(204);
    expect(
      (await inject({ method: 'DELETE', url: '/v1/admin/tenants/ops/assets/lan-hq', headers: bearer })).statusCode,
    ).toBe(404);

    const articles =
      'id,title,body\nKB-1,"VPN drops","Renew the certificate.\nThen restart the client."\nKB-2,,empty title';
    const result = (
      await inject({
        method: 'POST',
        url: '/v1/admin/tenants/ops/kb-articles/import',
        headers: { ...bearer, 'content-type': 'text/csv' },
        payload: articles,
      })
    ).json();
    expect(result).toMatchObject({
      received: 2,
      inserted: 1,
      errors: [{ row: 2, line: 4, id: 'KB-2', messages: ['title is required'] }],
    });
    const kb = (await inject({ method: 'GET', url: '/v1/admin/tenants/ops/kb-articles', headers: bearer })).json();
    expect(kb.items).toEqual([
      expect.objectContaining({ id: 'KB-1', body: 'Renew the certificate.\nThen restart the client.' }),
    ]);

    const cli = await runCli(['kb', 'import', '--tenant', 'ops', 'docs/examples/kb-articles.json', '--json'], t.env);
    expect(cli.stderr).toBe('');
    expect(cli.code).toBe(0);
    expect(JSON.parse(cli.stdout)).toMatchObject({ errors: [], dryRun: false });
    const assetsCli = await runCli(['assets', 'import', '--tenant', 'ops', 'docs/examples/assets.csv'], t.env);
    expect(assetsCli.code).toBe(0);
    expect(assetsCli.stdout).toMatch(/^Imported: \d+ row\(s\), \d+ added, 0 replaced, 0 not imported/);
  });
});

describe('overview', () => {
  it('reports per-group consumers and throughput, and streams it as Server-Sent Events', async () => {
    const overview = (await inject({ method: 'GET', url: '/v1/admin/overview', headers: bearer })).json();
    const ops = overview.tenants.find((tenant: { tenant: string }) => tenant.tenant === 'ops');
    expect(ops.groups.map((group: { name: string }) => group.name)).toEqual([
      'archiver',
      'context',
      'enhance',
      'projector',
      'writeback',
    ]);
    for (const group of ops.groups)
      expect(group).toMatchObject({ liveConsumers: 1, stalledConsumers: 0, pending: expect.any(Number) });

    const history = (
      await inject({ method: 'GET', url: '/v1/admin/overview/history?tenant=ops', headers: bearer })
    ).json();
    expect(history.points).toHaveLength(60);
    expect(
      history.points.reduce((sum: number, point: { writtenBack: number }) => sum + point.writtenBack, 0),
    ).toBeGreaterThanOrEqual(3);

    // A consumer that took an entry and went silent is stalled once idle past the claim timeout.
    const { redis, keys, registry, db } = t.services;
    await appendEvent(t.services, receivedEvent('quiet', 'Q-1'));
    await redis.xgroup('CREATE', keys.events('quiet'), 'audit', '0');
    await redis.xreadgroup('GROUP', 'audit', 'ghost', 'COUNT', 1, 'STREAMS', keys.events('quiet'), '>');
    const source = new OverviewSource({ redis, keys, registry, db, claimIdleMs: 100 });
    const audit = await waitFor(
      async () => {
        const group = (await source.overview()).tenants
          .find((tenant) => tenant.tenant === 'quiet')
          ?.groups.find((candidate) => candidate.name === 'audit');
        return group?.stalledConsumers === 1 ? group : undefined;
      },
      { intervalMs: 200, message: 'the silent consumer counts as stalled' },
    );
    expect(audit).toMatchObject({ liveConsumers: 0, pending: 1 });

    await running.app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = running.app.server.address() as { port: number };
    const { cookie } = await signIn();
    const response = await fetch(`http://127.0.0.1:${port}/v1/admin/overview/stream`, { headers: { cookie } });
    expect(response.headers.get('content-type')).toContain('text/event-stream');
    const reader = response.body!.getReader();
    let text = '';
    while (!/event: overview\ndata: .*\n\n/.test(text) || !/event: history\n/.test(text))
      text += new TextDecoder().decode((await reader.read()).value);
    const data = JSON.parse(/event: overview\ndata: (.*)\n\n/.exec(text)![1]!);
    expect(data.tenants.map((tenant: { tenant: string }) => tenant.tenant)).toEqual(['ops', 'quiet']);
    await reader.cancel();
    expect((await fetch(`http://127.0.0.1:${port}/v1/admin/overview/stream`)).status).toBe(401);
  });
});
