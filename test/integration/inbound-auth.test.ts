import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { buildApp } from '../../src/ingest/app.js';
import { TenantRegistry } from '../../src/tenants/registry.js';
import { BoundedCache } from '../../src/tenants/cache.js';
import { createTestEnv, type TestEnv } from '../support/env.js';
import { signedHeaders, ticketBody } from '../support/webhook.js';

let t: TestEnv;
let app: FastifyInstance;
const secrets = new Map<string, string>();

const streamLength = (tenant: string) => t.services.redis.xlen(t.services.keys.events(tenant));
const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

beforeAll(async () => {
  t = await createTestEnv();
  const { services } = t;
  app = await buildApp(t.config, {
    logger: services.logger,
    redis: services.ingestRedis,
    keys: services.keys,
    db: services.db,
    metrics: services.metrics,
    registry: services.registry,
  });
  secrets.set('signer', (await services.registry.create({ id: 'signer' })).secret);
  secrets.set('tokened', (await services.registry.create({ id: 'tokened', inboundAuth: 'token' })).secret);
  secrets.set('basics', (await services.registry.create({ id: 'basics', inboundAuth: 'basic' })).secret);
});

afterAll(async () => {
  await app?.close();
  await t?.cleanup();
});

function post(tenant: string, body: string, headers: Record<string, string>) {
  return app.inject({
    method: 'POST',
    url: `/v1/webhooks/${tenant}/tickets`,
    payload: body,
    headers: { 'content-type': 'application/json', ...headers },
  });
}

const secretOf = (tenant: string) => secrets.get(tenant) ?? '';

describe('inbound authentication modes', () => {
  let n = 0;
  const body = () => ticketBody({ id: `A-${++n}`, subject: 'Auth', description: 'mode check' });

  it.each([
    ['a token in X-Streamdesk-Token', 'tokened', () => ({ 'x-streamdesk-token': secretOf('tokened') })],
    ['a token as Authorization: Bearer', 'tokened', () => ({ authorization: `Bearer ${secretOf('tokened')}` })],
    [
      'HTTP Basic with the tenant id and token',
      'basics',
      () => ({ authorization: basic('basics', secretOf('basics')) }),
    ],
  ])('accepts %s', async (_name, tenant, headers) => {
    const before = await streamLength(tenant);
    const response = await post(tenant, body(), headers());
    expect(response.statusCode).toBe(202);
    expect(response.json().duplicate).toBe(false);
    expect(await streamLength(tenant)).toBe(before + 1);
  });

  const refusals: [string, string, () => Record<string, string>, string][] = [
    ['a wrong token', 'tokened', () => ({ 'x-streamdesk-token': 'whsec_wrong' }), 'INVALID_CREDENTIALS'],
    ["another tenant's token", 'tokened', () => ({ 'x-streamdesk-token': secretOf('basics') }), 'INVALID_CREDENTIALS'],
    [
      'a token to a Basic tenant',
      'basics',
      () => ({ 'x-streamdesk-token': secretOf('basics') }),
      'INVALID_CREDENTIALS',
    ],
    [
      'a token to an HMAC tenant (its secret used as a token)',
      'signer',
      () => ({ 'x-streamdesk-token': secretOf('signer') }),
      'INVALID_CREDENTIALS',
    ],
    [
      'Basic with a wrong password',
      'basics',
      () => ({ authorization: basic('basics', 'nope') }),
      'INVALID_CREDENTIALS',
    ],
    [
      'Basic with another user name',
      'basics',
      () => ({ authorization: basic('tokened', secretOf('basics')) }),
      'INVALID_CREDENTIALS',
    ],
    ['Basic that is not base64', 'basics', () => ({ authorization: 'Basic %%%' }), 'INVALID_CREDENTIALS'],
    [
      'Basic to a token tenant',
      'tokened',
      () => ({ authorization: basic('tokened', secretOf('tokened')) }),
      'INVALID_CREDENTIALS',
    ],
    ['a signature to a token tenant', 'tokened', () => signedHeaders(secretOf('tokened'), 'x'), 'INVALID_SIGNATURE'],
    ['no credentials at all', 'tokened', () => ({}), 'MISSING_SIGNATURE'],
  ];
  it.each(refusals)('refuses %s with 401 and appends nothing', async (_name, tenant, headers, code) => {
    const before = await streamLength(tenant);
    const response = await post(tenant, body(), headers());
    expect(response.statusCode).toBe(401);
    expect(response.json().error.code).toBe(code);
    expect(await streamLength(tenant)).toBe(before);
  });

  it.each([
    ['a token', () => ({ 'x-streamdesk-token': secretOf('tokened') }), 'tokened'],
    ['Basic', () => ({ authorization: basic('nobody-here', secretOf('basics')) }), 'basics'],
    ['a signature', () => ({}), 'signer'],
    ['nothing', () => ({}), ''],
  ])(
    'answers an unknown tenant given %s exactly like a known tenant given a wrong one',
    async (_name, headers, known) => {
      const payload = body();
      const sign = (secret: string) => (_name === 'a signature' ? signedHeaders(secret, payload) : {});
      const wrong = (h: Record<string, string>) =>
        Object.fromEntries(
          Object.entries(h).map(([k, v]) => [
            k,
            k === 'authorization' ? basic(known, 'wrong') : k === 'x-streamdesk-token' ? 'wrong' : v,
          ]),
        );
      const unknown = await post('nobody-here', payload, { ...headers(), ...sign(secretOf('signer')) });
      const knownTenant = known || 'signer';
      const bad = await post(knownTenant, payload, { ...wrong(headers()), ...sign('whsec_wrong') });
      expect(unknown.statusCode).toBe(401);
      expect(unknown.statusCode).toBe(bad.statusCode);
      expect(unknown.body).toBe(bad.body);
      expect(unknown.headers['content-type']).toBe(bad.headers['content-type']);
      expect(await t.services.redis.exists(t.services.keys.events('nobody-here'))).toBe(0);
    },
  );
});

describe('nothing replayed, nothing dropped', () => {
  it('a signed request replayed under a new delivery id is a duplicate of the first', async () => {
    const body = ticketBody({ id: 'R-1', subject: 'Replay', description: 'captured' });
    const headers = signedHeaders(secretOf('signer'), body, { deliveryId: 'orig-1' });
    const first = await post('signer', body, headers);
    const length = await streamLength('signer');
    for (const deliveryId of ['new-1', 'new-2', 'new-3']) {
      const replay = await post('signer', body, { ...headers, 'x-streamdesk-delivery': deliveryId });
      expect(replay.statusCode).toBe(202);
      expect(replay.json()).toEqual({ eventId: first.json().eventId, duplicate: true });
    }
    const noDelivery = { ...headers };
    delete noDelivery['x-streamdesk-delivery'];
    expect((await post('signer', body, noDelivery)).json()).toEqual({ eventId: first.json().eventId, duplicate: true });
    expect(await streamLength('signer')).toBe(length);
  });

  it('the same body signed again with a new timestamp is a new request (the sender meant it)', async () => {
    const body = ticketBody({ id: 'R-2', subject: 'Again', description: 'twice on purpose' }, 'ticket.updated');
    const now = Math.floor(Date.now() / 1_000);
    const first = await post(
      'signer',
      body,
      signedHeaders(secretOf('signer'), body, { timestamp: now - 10, deliveryId: 'r2-a' }),
    );
    const second = await post(
      'signer',
      body,
      signedHeaders(secretOf('signer'), body, { timestamp: now, deliveryId: 'r2-b' }),
    );
    expect(first.json().duplicate).toBe(false);
    expect(second.json().duplicate).toBe(false);
    expect(second.json().eventId).not.toBe(first.json().eventId);
  });

  it.each([
    ['signed', 'signer', (body: string, deliveryId: string) => signedHeaders(secretOf('signer'), body, { deliveryId })],
    [
      'token',
      'tokened',
      (_body: string, deliveryId: string) => ({
        'x-streamdesk-token': secretOf('tokened'),
        'x-streamdesk-delivery': deliveryId,
      }),
    ],
  ])(
    'a delivery id reused with a different body answers 409 DELIVERY_CONFLICT and appends nothing (%s)',
    async (_mode, tenant, headers) => {
      const deliveryId = `dup-${tenant}`;
      const first = ticketBody({ id: 'C-1', subject: 'First', description: 'one' });
      const other = ticketBody({ id: 'C-2', subject: 'Other ticket', description: 'two' });
      const accepted = await post(tenant, first, headers(first, deliveryId));
      expect(accepted.statusCode).toBe(202);
      const length = await streamLength(tenant);
      const conflict = await post(tenant, other, headers(other, deliveryId));
      expect(conflict.statusCode).toBe(409);
      expect(conflict.json().error).toMatchObject({
        code: 'DELIVERY_CONFLICT',
        details: { firstEventId: accepted.json().eventId },
      });
      expect(await streamLength(tenant)).toBe(length);
      // The same body under that id is still the harmless repeat it always was.
      expect((await post(tenant, first, headers(first, deliveryId))).json()).toEqual({
        eventId: accepted.json().eventId,
        duplicate: true,
      });
    },
  );

  it('with a token, the same ticket event is accepted once whatever the delivery id or body layout', async () => {
    const headers = (deliveryId: string) => ({
      'x-streamdesk-token': secretOf('tokened'),
      'x-streamdesk-delivery': deliveryId,
    });
    const event = {
      event: 'ticket.updated',
      ticket: { id: 'E-1', subject: 'Disk', description: 'full', updatedAt: '1764700000000' },
    };
    const first = await post('tokened', JSON.stringify(event), headers('e1-a'));
    const length = await streamLength('tokened');
    const reordered = JSON.stringify({
      ticket: { updatedAt: '1764700000000', description: 'full', subject: 'Disk', id: 'E-1' },
      event: 'ticket.updated',
    });
    const again = await post('tokened', reordered, headers('e1-b'));
    expect(again.json()).toEqual({ eventId: first.json().eventId, duplicate: true });
    expect(await streamLength('tokened')).toBe(length);
    const later = await post(
      'tokened',
      JSON.stringify({ ...event, ticket: { ...event.ticket, updatedAt: '1764700005000' } }),
      headers('e1-c'),
    );
    expect(later.json().duplicate).toBe(false);
    expect(await streamLength('tokened')).toBe(length + 1);
  });

  it('with a token, two different updates without a modification time are both kept', async () => {
    const headers = { 'x-streamdesk-token': secretOf('tokened') };
    const one = await post(
      'tokened',
      ticketBody({ id: 'E-2', subject: 'Mail', description: 'first update' }, 'ticket.updated'),
      headers,
    );
    const two = await post(
      'tokened',
      ticketBody({ id: 'E-2', subject: 'Mail', description: 'second update' }, 'ticket.updated'),
      headers,
    );
    expect([one.json().duplicate, two.json().duplicate]).toEqual([false, false]);
  });
});

describe('rotation', () => {
  it('accepts the old and the new secret during the overlap, and only the new one once the old is retired', async () => {
    const { registry } = t.services;
    const tenant = 'rotor';
    const old = (await registry.create({ id: tenant })).secret;
    const rotated = await registry.rotateSecret(tenant);
    expect(rotated.secret).not.toBe(old);
    let n = 0;
    const send = (secret: string) => {
      const body = ticketBody({ id: `ROT-${++n}`, subject: 'Rotation', description: 'overlap' });
      return post(tenant, body, signedHeaders(secret, body));
    };
    expect((await send(old)).statusCode).toBe(202);
    expect((await send(rotated.secret)).statusCode).toBe(202);
    expect(await registry.retirePreviousSecret(tenant)).toBe(true);
    const refused = await send(old);
    expect(refused.statusCode).toBe(401);
    expect(refused.json().error.code).toBe('INVALID_SIGNATURE');
    expect((await send(rotated.secret)).statusCode).toBe(202);
    expect(await registry.retirePreviousSecret(tenant)).toBe(false);
  });

  it('ends the overlap by itself when it was given a length', async () => {
    const { registry } = t.services;
    const old = (await registry.create({ id: 'rotor-timed', inboundAuth: 'token' })).secret;
    const rotated = await registry.rotateSecret('rotor-timed', 0);
    const body = ticketBody({ id: 'TT-1', subject: 'Timed', description: 'expired overlap' });
    expect((await post('rotor-timed', body, { 'x-streamdesk-token': old })).statusCode).toBe(401);
    expect((await post('rotor-timed', body, { 'x-streamdesk-token': rotated.secret })).statusCode).toBe(202);
  });
});

describe('tenant lookup cache', () => {
  it('keeps at most its size, and nothing past its age', () => {
    const cache = new BoundedCache<string>(3, 1_000);
    for (let i = 0; i < 10; i++) cache.set(`k${i}`, `v${i}`, 0);
    expect(cache.size).toBe(3);
    expect(cache.get('k0', 0)).toBeUndefined();
    expect(cache.get('k9', 999)).toEqual({ value: 'v9' });
    expect(cache.get('k9', 1_000)).toBeUndefined();
  });

  it('reads a tenant once for lookups made at the same time, and again after a change', async () => {
    const registry = await TenantRegistry.connect(t.config, { cacheMs: 60_000 });
    try {
      await registry.create({ id: 'shared-read' });
      const reads = vi.spyOn(registry as unknown as { read(id: string): Promise<unknown> }, 'read');
      const found = await Promise.all(Array.from({ length: 20 }, () => registry.get('shared-read')));
      expect(found.map((tenant) => tenant?.id)).toEqual(Array(20).fill('shared-read'));
      expect(reads).toHaveBeenCalledTimes(1);
      await registry.update('shared-read', { name: 'Renamed' });
      expect((await registry.get('shared-read'))?.name).toBe('Renamed');
    } finally {
      await registry.close();
    }
  });

  it('does not grow with random unknown tenant ids', async () => {
    const registry = await TenantRegistry.connect(t.config, { cacheEntries: 16 });
    try {
      for (let i = 0; i < 200; i++) expect(await registry.get(`random-${i}`)).toBeUndefined();
      expect(registry.cachedLookups).toBeLessThanOrEqual(16);
    } finally {
      await registry.close();
    }
  });
});
