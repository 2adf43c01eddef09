import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { currentVersion, upcasters } from '../../src/events.js';
import { startRole, type RunningRole } from '../../src/runtime/roles.js';
import { ingestApp } from '../support/app.js';
import { createTestEnv, waitFor, type TestEnv } from '../support/env.js';
import { runCli } from '../support/child.js';
import { appendEvent, receivedEvent } from '../support/events.js';
import { signedHeaders, ticketBody } from '../support/webhook.js';

let t: TestEnv;
let running: RunningRole;
let secret: string;
const auth = { authorization: 'Bearer test-admin-token-0123456789' };

beforeAll(async () => {
  t = await createTestEnv({ RETRY_BASE_MS: '10', RETRY_MAX_MS: '50' });
  secret = (await t.services.registry.create({ id: 'ops' })).secret;
  running = await startRole('all', t.services, {
    listen: false,
    runnerOverrides: { blockMs: 50, tenantRefreshMs: 50 },
  });
});

afterAll(async () => {
  await running?.stop();
  await t?.cleanup();
});

describe('admin API over a running pipeline', () => {
  it('shows a ticket with its events, and per-tenant status', async () => {
    const body = ticketBody({
      id: 'A-1',
      subject: 'Printer offline',
      description: 'The printer at 10.0.0.9 is offline',
    });
    expect(
      (
        await running.app.inject({
          method: 'POST',
          url: '/v1/webhooks/ops/tickets',
          payload: body,
          headers: signedHeaders(secret, body),
        })
      ).statusCode,
    ).toBe(202);
    const ticket = await waitFor(
      async () => {
        const response = await running.app.inject({
          method: 'GET',
          url: '/v1/admin/tenants/ops/tickets/A-1',
          headers: auth,
        });
        if (response.statusCode !== 200) return undefined;
        const found = response.json() as { ticket: { status: string }; events: { type: string }[] };
        return found.ticket.status === 'written_back' && found.events.length === 4 ? found : undefined;
      },
      { message: 'ticket written back and archived' },
    );
    expect(ticket.events.map((event) => event.type)).toEqual([
      'ticket.received',
      'ticket.context_gathered',
      'ticket.enhanced',
      'ticket.written_back',
    ]);
    expect(ticket.ticket).toMatchObject({ tenant_id: 'ops', ticket_id: 'A-1', subject: 'Printer offline' });

    const missing = await running.app.inject({
      method: 'GET',
      url: '/v1/admin/tenants/ops/tickets/nope',
      headers: auth,
    });
    expect(missing.statusCode).toBe(404);
    const otherTenant = await running.app.inject({
      method: 'GET',
      url: '/v1/admin/tenants/nobody/tickets/A-1',
      headers: auth,
    });
    expect(otherTenant.json().error.code).toBe('UNKNOWN_TENANT');

    const status = (await running.app.inject({ method: 'GET', url: '/v1/admin/status', headers: auth })).json();
    const ops = status.tenants.find((tenant: { tenant: string }) => tenant.tenant === 'ops');
    expect(ops.streamLength).toBe(4);
    expect(ops.groups.map((group: { name: string }) => group.name)).toEqual([
      'archiver',
      'context',
      'enhance',
      'projector',
      'writeback',
    ]);
    for (const group of ops.groups) expect(group).toMatchObject({ pending: 0, lag: 0, consumers: expect.any(Number) });
  });

  it('lists a dead letter and redrives it once the code can read it', async () => {
    // An event written by newer code (v2) that this deployment cannot read yet.
    const future = receivedEvent('ops', 'A-2', { v: 2 });
    await appendEvent(t.services, future);
    const letters = await waitFor(
      async () => {
        const response = await running.app.inject({ method: 'GET', url: '/v1/admin/tenants/ops/dlq', headers: auth });
        const found = response.json().deadLetters as { id: string; group: string; code: string }[];
        return found.length === 3 ? found : undefined;
      },
      { message: 'every group that handles ticket.received dead-lettered the unreadable event' },
    );
    expect(new Set(letters.map((letter) => letter.code))).toEqual(new Set(['UNKNOWN_EVENT_VERSION']));

    const cli = await runCli(['dlq', 'list', '--tenant', 'ops', '--json'], t.env);
    expect(cli.code).toBe(0);
    expect(JSON.parse(cli.stdout).deadLetters).toHaveLength(3);

    // Deploy the upcaster, then redrive only the context stage's letter.
    currentVersion['ticket.received'] = 2;
    upcasters.set('ticket.received@1', (data) => data);
    try {
      const contextLetter = letters.find((letter) => letter.group === 'context')!;
      const redrive = await running.app.inject({
        method: 'POST',
        url: '/v1/admin/tenants/ops/dlq/redrive',
        headers: auth,
        payload: { ids: [contextLetter.id, '1-1'] },
      });
      expect(redrive.json()).toEqual({ redriven: 1, missing: ['1-1'] });
      await waitFor(
        async () => {
          const { rows } = await t.services.db.query(
            "SELECT status FROM tickets WHERE tenant_id = 'ops' AND ticket_id = 'A-2'",
          );
          return rows[0]?.status === 'written_back';
        },
        { message: 'the redriven ticket completes' },
      );
      const remaining = (
        await running.app.inject({ method: 'GET', url: '/v1/admin/tenants/ops/dlq', headers: auth })
      ).json().deadLetters;
      expect(remaining).toHaveLength(2);
    } finally {
      currentVersion['ticket.received'] = 1;
      upcasters.delete('ticket.received@1');
    }
  });
});

describe('backpressure', () => {
  it('answers 429 with Retry-After once a tenant backlog is over its limit, and appends nothing', async () => {
    const limited = await createTestEnv({ TENANT_BACKLOG_LIMIT: '5' });
    try {
      const { services } = limited;
      const { secret: slowSecret } = await services.registry.create({ id: 'slow' });
      // A group that has not processed anything yet: its lag is the backlog.
      await services.redis.xgroup('CREATE', services.keys.events('slow'), 'projector', '0', 'MKSTREAM');
      for (let i = 0; i < 5; i++) await appendEvent(services, receivedEvent('slow', `B-${i}`));
      const app = await ingestApp(limited.config, services);
      const body = ticketBody({ id: 'B-9', subject: 'One too many', description: 'x' });
      const response = await app.inject({
        method: 'POST',
        url: '/v1/webhooks/slow/tickets',
        payload: body,
        headers: signedHeaders(slowSecret, body),
      });
      expect(response.statusCode).toBe(429);
      expect(response.headers['retry-after']).toBe('5');
      expect(response.json().error.code).toBe('BACKLOG_FULL');
      expect(await services.redis.xlen(services.keys.events('slow'))).toBe(5);
      await app.close();
    } finally {
      await limited.cleanup();
    }
  });
});
