import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeEvent } from '../../src/events.js';
import { ingestApp } from '../support/app.js';
import { createTestEnv, type TestEnv } from '../support/env.js';
import { signedHeaders, ticketBody } from '../support/webhook.js';

let t: TestEnv;
let app: FastifyInstance;
let acme: { id: string; secret: string };
let globex: { id: string; secret: string };

// Both lanes: a high or urgent ticket is appended to the priority lane.
const streamLength = async (tenant: string) =>
  (await t.services.redis.xlen(t.services.keys.events(tenant))) +
  (await t.services.redis.xlen(t.services.keys.priorityEvents(tenant)));

beforeAll(async () => {
  t = await createTestEnv();
  const { services } = t;
  app = await ingestApp(t.config, services);
  acme = await services.registry.create({ id: 'acme' });
  globex = await services.registry.create({ id: 'globex' });
});

afterAll(async () => {
  await app?.close();
  await t?.cleanup();
});

function post(tenant: string, body: string, headers: Record<string, string>) {
  return app.inject({ method: 'POST', url: `/v1/webhooks/${tenant}/tickets`, payload: body, headers });
}

describe('POST /v1/webhooks/:tenant/tickets', () => {
  it('accepts a signed ticket, appends one ticket.received event (a high one to the priority lane) and answers 202 with its id', async () => {
    const body = ticketBody({
      id: 'T-1',
      subject: 'VPN down',
      description: 'Cannot reach 10.0.0.5',
      priority: 'high',
      requester: { name: 'Ann', email: 'ann@example.com' },
    });
    const before = await streamLength('acme');
    const response = await post('acme', body, signedHeaders(acme.secret, body));
    expect(response.statusCode).toBe(202);
    const { eventId, duplicate } = response.json();
    expect(duplicate).toBe(false);
    expect(eventId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(await streamLength('acme')).toBe(before + 1);
    const [[, fields] = ['', []]] = (await t.services.redis.xrevrange(
      t.services.keys.priorityEvents('acme'),
      '+',
      '-',
      'COUNT',
      1,
    )) as [string, string[]][];
    const event = decodeEvent(fields!);
    expect(event).toMatchObject({
      id: eventId,
      type: 'ticket.received',
      v: 1,
      tenant: 'acme',
      ticket: 'T-1',
      correlation: eventId,
      causation: '',
    });
    expect(event.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/);
    expect(event.data).toMatchObject({
      action: 'ticket.created',
      ticket: {
        id: 'T-1',
        subject: 'VPN down',
        priority: 'high',
        requester: { name: 'Ann', email: 'ann@example.com' },
      },
    });
  });

  it('answers a repeated delivery with the first event id and appends nothing', async () => {
    const body = ticketBody({ id: 'T-2', subject: 'Printer', description: 'Jammed' });
    const first = await post('acme', body, signedHeaders(acme.secret, body, { deliveryId: 'dlv-42' }));
    const length = await streamLength('acme');
    const second = await post('acme', body, signedHeaders(acme.secret, body, { deliveryId: 'dlv-42' }));
    expect(first.statusCode).toBe(202);
    expect(second.statusCode).toBe(202);
    expect(second.json()).toEqual({ eventId: first.json().eventId, duplicate: true });
    expect(await streamLength('acme')).toBe(length);
  });

  it('treats an identical body without a delivery header as a repeat', async () => {
    const body = ticketBody({ id: 'T-3', subject: 'Mail', description: 'Bounces' });
    const first = await post('acme', body, signedHeaders(acme.secret, body));
    const second = await post('acme', body, signedHeaders(acme.secret, body));
    expect(second.json()).toEqual({ eventId: first.json().eventId, duplicate: true });
  });

  describe('rejects without appending', () => {
    const body = ticketBody({ id: 'T-9', subject: 'Disk full', description: 'C: is full' });
    const now = () => Math.floor(Date.now() / 1_000);
    const cases: [
      string,
      () => Promise<{ statusCode: number; json(): { error: { code: string; message: string } } }>,
      number,
      string,
    ][] = [
      ['a wrong secret', () => post('acme', body, signedHeaders('whsec_wrong', body)), 401, 'INVALID_SIGNATURE'],
      [
        "another tenant's secret",
        () => post('acme', body, signedHeaders(globex.secret, body)),
        401,
        'INVALID_SIGNATURE',
      ],
      [
        'a body changed after signing',
        () => post('acme', body.replace('Disk', 'Dusk'), signedHeaders(acme.secret, body)),
        401,
        'INVALID_SIGNATURE',
      ],
      [
        'a stale timestamp',
        () => post('acme', body, signedHeaders(acme.secret, body, { timestamp: now() - 305 })),
        401,
        'STALE_TIMESTAMP',
      ],
      [
        'a future timestamp',
        () => post('acme', body, signedHeaders(acme.secret, body, { timestamp: now() + 305 })),
        401,
        'STALE_TIMESTAMP',
      ],
      [
        'missing signature headers',
        () => post('acme', body, { 'content-type': 'application/json' }),
        401,
        'MISSING_SIGNATURE',
      ],
      [
        'an unknown tenant, like a wrong secret',
        () => post('nobody', body, signedHeaders(acme.secret, body)),
        401,
        'INVALID_SIGNATURE',
      ],
      [
        'a malformed tenant id',
        () => post('Bad_Tenant', body, signedHeaders(acme.secret, body)),
        400,
        'INVALID_TENANT_ID',
      ],
      [
        'a non-JSON content type',
        () => post('acme', body, { ...signedHeaders(acme.secret, body), 'content-type': 'text/plain' }),
        415,
        'UNSUPPORTED_MEDIA_TYPE',
      ],
    ];
    it.each(cases)('%s', async (_name, send, status, code) => {
      const before = await streamLength('acme');
      const response = await send();
      expect(response.statusCode).toBe(status);
      expect(response.json().error.code).toBe(code);
      expect(response.json().error.message).toEqual(expect.any(String));
      expect(JSON.stringify(response.json())).not.toMatch(/at .*\.(ts|js):\d+/);
      expect(await streamLength('acme')).toBe(before);
    });

    it('a body over 256 KiB with 413', async () => {
      const large = ticketBody({ id: 'T-big', subject: 'Big', description: 'x'.repeat(300 * 1024) });
      const before = await streamLength('acme');
      const response = await post('acme', large, signedHeaders(acme.secret, large));
      expect(response.statusCode).toBe(413);
      expect(response.json().error.code).toBe('PAYLOAD_TOO_LARGE');
      expect(await streamLength('acme')).toBe(before);
    });

    it('invalid JSON with 400', async () => {
      const broken = '{"event": "ticket.created", "ticket": ';
      const response = await post('acme', broken, signedHeaders(acme.secret, broken));
      expect(response.statusCode).toBe(400);
      expect(response.json().error.code).toBe('INVALID_JSON');
    });

    it('schema violations with 400 and a message per field', async () => {
      const invalid = JSON.stringify({ event: 'ticket.deleted', ticket: { id: 'T-5', description: 42 } });
      const before = await streamLength('acme');
      const response = await post('acme', invalid, signedHeaders(acme.secret, invalid));
      expect(response.statusCode).toBe(400);
      const { error } = response.json();
      expect(error.code).toBe('BAD_REQUEST');
      const paths = (error.details as { path: string }[]).map((detail) => detail.path);
      expect(paths).toEqual(expect.arrayContaining(['event', 'ticket.subject', 'ticket.description']));
      expect(error.message).toContain('ticket.subject');
      expect(await streamLength('acme')).toBe(before);
    });
  });
});

describe('admin API', () => {
  const auth = { authorization: 'Bearer test-admin-token-0123456789' };

  it('refuses requests without the bearer token', async () => {
    const response = await app.inject({
      method: 'GET',
      url: '/v1/admin/tenants',
      headers: { authorization: 'Bearer nope' },
    });
    expect(response.statusCode).toBe(401);
    expect(response.json().error.code).toBe('UNAUTHORIZED');
  });

  it('creates a tenant once, shows its secret only then, and lists tenants without secrets', async () => {
    const created = await app.inject({
      method: 'POST',
      url: '/v1/admin/tenants',
      headers: auth,
      payload: { id: 'initech', name: 'Initech' },
    });
    expect(created.statusCode).toBe(201);
    expect(created.json()).toEqual({ id: 'initech', secret: expect.stringMatching(/^whsec_[0-9a-f]{48}$/) });
    const again = await app.inject({
      method: 'POST',
      url: '/v1/admin/tenants',
      headers: auth,
      payload: { id: 'initech' },
    });
    expect(again.statusCode).toBe(409);
    expect(again.json().error.code).toBe('TENANT_EXISTS');
    const listed = await app.inject({ method: 'GET', url: '/v1/admin/tenants', headers: auth });
    expect(listed.json().tenants.map((tenant: { id: string }) => tenant.id)).toEqual(['acme', 'globex', 'initech']);
    expect(listed.body).not.toContain('whsec_');
  });

  it('rejects an invalid tenant id with a clear message', async () => {
    const response = await app.inject({
      method: 'POST',
      url: '/v1/admin/tenants',
      headers: auth,
      payload: { id: '-bad' },
    });
    expect(response.statusCode).toBe(400);
    expect(response.json().error.message).toContain('id');
  });
});

describe('admin routes without ADMIN_TOKEN', () => {
  it('are off, not open', async () => {
    const config = { ...t.config, adminToken: undefined };
    const { services } = t;
    const closed = await ingestApp(config, services);
    const response = await closed.inject({ method: 'GET', url: '/v1/admin/tenants' });
    expect(response.statusCode).toBe(404);
    await closed.close();
  });
});
