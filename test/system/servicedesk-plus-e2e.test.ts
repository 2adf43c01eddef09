import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRole, type RunningRole } from '../../src/runtime/roles.js';
import { createTestEnv, waitFor, type TestEnv } from '../support/env.js';
import { startFakeHelpdesk, type FakeHelpdesk } from '../support/fake-helpdesk.js';
import { formBody } from '../support/servicedesk-plus.js';
import { signedHeaders, ticketBody } from '../support/webhook.js';

let t: TestEnv;
let helpdesk: FakeHelpdesk;
let running: RunningRole;
let token = '';
let signingSecret = '';

beforeAll(async () => {
  helpdesk = await startFakeHelpdesk();
  t = await createTestEnv({ RETRY_BASE_MS: '20', RETRY_MAX_MS: '100', WRITEBACK_ALLOW_PRIVATE: 'true' });
  const { registry } = t.services;
  const writeback = { type: 'servicedesk-plus' as const, baseUrl: helpdesk.url, authToken: 'technician-api-key' };
  token = (await registry.create({ id: 'desk', inboundAuth: 'token', writeback })).secret;
  signingSecret = (await registry.create({ id: 'signed-desk', writeback })).secret;
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

const status = (tenant: string, id: string) =>
  waitFor(
    async () => {
      const { rows } = await t.services.db.query<{ status: string; subject: string; description: string }>(
        'SELECT status, subject, description FROM tickets WHERE tenant_id = $1 AND ticket_id = $2',
        [tenant, id],
      );
      return rows[0]?.status === 'written_back' ? rows[0] : undefined;
    },
    { message: `${tenant}/${id} written back` },
  );

const notesFor = (id: string) => helpdesk.requests.filter((request) => request.path === `/api/v3/requests/${id}/notes`);

describe('ServiceDesk Plus end to end', () => {
  it('a request from the form template gets exactly one private note, however often the helpdesk repeats the webhook', async () => {
    const body = formBody({
      id: '31337',
      subject: 'Outlook "crashes" on start 📧',
      description: '<div>Since the update<br>on PC-0042</div>',
      priority: 'High',
      requester: 'Ann',
      last_updated_time: '1764700000000',
    });
    for (let i = 0; i < 4; i++) {
      const response = await running.app.inject({
        method: 'POST',
        url: '/v1/webhooks/desk/servicedesk-plus',
        payload: body,
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          'x-streamdesk-token': token,
          'x-streamdesk-delivery': `sdp-retry-${i}`,
        },
      });
      expect(response.statusCode).toBe(202);
      expect(response.json().duplicate).toBe(i > 0);
    }
    const row = await status('desk', '31337');
    expect(row).toMatchObject({
      subject: 'Outlook "crashes" on start 📧',
      description: 'Since the update\non PC-0042',
    });
    expect(notesFor('31337')).toHaveLength(1);
    expect(notesFor('31337')[0]?.headers.authtoken).toBe('technician-api-key');
  });

  it('a captured signed request resent under new delivery ids posts one note, not one per copy', async () => {
    const body = ticketBody({ id: '31338', subject: 'Captured', description: 'replayed four times' });
    const headers = signedHeaders(signingSecret, body);
    for (let i = 0; i < 4; i++) {
      const response = await running.app.inject({
        method: 'POST',
        url: '/v1/webhooks/signed-desk/tickets',
        payload: body,
        headers: { ...headers, 'x-streamdesk-delivery': `copy-${i}` },
      });
      expect(response.json().duplicate).toBe(i > 0);
    }
    await status('signed-desk', '31338');
    expect(notesFor('31338')).toHaveLength(1);
  });
});
