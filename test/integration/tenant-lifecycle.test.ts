import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { TenantRegistry } from '../../src/tenants/registry.js';
import { ingestApp } from '../support/app.js';
import { createTestEnv, type TestEnv } from '../support/env.js';
import { signedHeaders, ticketBody } from '../support/webhook.js';

const firstKey = randomBytes(32).toString('hex');
const secondKey = randomBytes(32).toString('base64');
const auth = { authorization: 'Bearer test-admin-token-0123456789' };

let t: TestEnv;
let app: FastifyInstance;

beforeAll(async () => {
  // Write-back targets here are never called; loopback ones, as every test's fake helpdesk, are allowed.
  t = await createTestEnv({ SECRETS_ENCRYPTION_KEY: firstKey, WRITEBACK_ALLOW_PRIVATE: 'true' });
  const { services } = t;
  app = await ingestApp(t.config, services);
});

afterAll(async () => {
  await app?.close();
  await t?.cleanup();
});

const admin = (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: object) =>
  app.inject({ method, url, headers: auth, ...(payload ? { payload } : {}) });
const rawEntity = (id: string) => t.services.redis.hgetall(`${t.config.redisPrefix}:tenant:${id}`);

function sendSigned(tenant: string, secret: string, id: string) {
  const body = ticketBody({ id, subject: 'Lifecycle', description: 'ticket' });
  return app.inject({
    method: 'POST',
    url: `/v1/webhooks/${tenant}/tickets`,
    payload: body,
    headers: signedHeaders(secret, body),
  });
}

describe('tenant lifecycle through the admin API', () => {
  it('updates name, inbound auth mode and write-back target', async () => {
    const created = await admin('POST', '/v1/admin/tenants', { id: 'life', name: 'Life Ltd' });
    const { secret } = created.json();
    const updated = await admin('PATCH', '/v1/admin/tenants/life', {
      name: 'Life Limited',
      inboundAuth: 'token',
      writeback: { type: 'servicedesk-plus', baseUrl: 'http://127.0.0.1:9/sdp', authToken: 'tech-key-1' },
    });
    expect(updated.statusCode).toBe(200);
    expect(updated.json()).toMatchObject({
      id: 'life',
      name: 'Life Limited',
      inboundAuth: 'token',
      writeback: { type: 'servicedesk-plus' },
    });
    expect(updated.body).not.toContain('tech-key-1');
    // The secret is now a token: a signature is refused, the token header accepted.
    expect((await sendSigned('life', secret, 'L-1')).statusCode).toBe(401);
    const body = ticketBody({ id: 'L-2', subject: 'Token', description: 'now' });
    const withToken = await app.inject({
      method: 'POST',
      url: '/v1/webhooks/life/tickets',
      payload: body,
      headers: { 'content-type': 'application/json', 'x-streamdesk-token': secret },
    });
    expect(withToken.statusCode).toBe(202);
    expect((await admin('GET', '/v1/admin/tenants/life')).json().name).toBe('Life Limited');
    expect((await admin('PATCH', '/v1/admin/tenants/life', {})).statusCode).toBe(400);
    expect(
      (await admin('PATCH', '/v1/admin/tenants/life', { inboundAuth: 'oauth' })).json().error.details[0].path,
    ).toBe('inboundAuth');
    await admin('POST', '/v1/admin/tenants', { id: 'life-basic', inboundAuth: 'basic' });
    const listed = (await admin('GET', '/v1/admin/tenants')).json().tenants as { id: string; inboundAuth: string }[];
    expect(listed.find((tenant) => tenant.id === 'life-basic')?.inboundAuth).toBe('basic');
    expect(JSON.stringify(listed)).not.toContain('whsec_');
    expect((await admin('PATCH', '/v1/admin/tenants/nobody', { name: 'x' })).json().error.code).toBe('UNKNOWN_TENANT');
  });

  it('shares one read among lookups that miss together, and a change saved meanwhile is not hidden by it', async () => {
    const { registry } = t.services;
    await registry.create({ id: 'shared', name: 'Before' });
    registry.forget('shared');
    const internals = registry as unknown as { read: (id: string) => Promise<unknown> };
    const read = internals.read.bind(registry);
    const reads = vi.spyOn(internals, 'read');
    try {
      const together = await Promise.all(Array.from({ length: 10 }, () => registry.get('shared')));
      expect(together.map((tenant) => tenant?.name)).toEqual(Array(10).fill('Before'));
      expect(reads).toHaveBeenCalledTimes(1);
      // A read that found the old name and is held back until after the change is saved.
      registry.forget('shared');
      let release = () => {};
      const held = new Promise<void>((resolve) => (release = resolve));
      reads.mockImplementationOnce(async (id) => {
        const found = await read(id);
        await held;
        return found;
      });
      const stale = registry.get('shared');
      await vi.waitFor(() => expect(reads).toHaveBeenCalledTimes(2));
      await registry.update('shared', { name: 'After' });
      const fresh = registry.get('shared');
      release();
      expect([(await stale)?.name, (await fresh)?.name]).toEqual(['Before', 'After']);
      expect((await registry.get('shared'))?.name).toBe('After');
    } finally {
      reads.mockRestore();
    }
  });

  it('rotates the secret with an overlap, then retires the old one', async () => {
    const { secret: old } = (await admin('POST', '/v1/admin/tenants', { id: 'spin' })).json();
    const rotated = await admin('POST', '/v1/admin/tenants/spin/secret/rotate', {});
    expect(rotated.statusCode).toBe(200);
    const { secret: fresh, previousSecretExpiresAt } = rotated.json();
    expect(fresh).not.toBe(old);
    expect(previousSecretExpiresAt).toBeNull();
    expect((await sendSigned('spin', old, 'S-1')).statusCode).toBe(202);
    expect((await sendSigned('spin', fresh, 'S-2')).statusCode).toBe(202);
    expect((await admin('POST', '/v1/admin/tenants/spin/secret/retire')).json()).toEqual({ id: 'spin', retired: true });
    expect((await sendSigned('spin', old, 'S-3')).json().error.code).toBe('INVALID_SIGNATURE');
    expect((await sendSigned('spin', fresh, 'S-4')).statusCode).toBe(202);
    const timed = await admin('POST', '/v1/admin/tenants/spin/secret/rotate', { overlapSeconds: 3_600 });
    expect(Date.parse(timed.json().previousSecretExpiresAt)).toBeGreaterThan(Date.now());
  });

  it('rotates the helpdesk API key without showing it', async () => {
    await admin('POST', '/v1/admin/tenants', {
      id: 'keyed',
      writeback: { type: 'servicedesk-plus', baseUrl: 'http://127.0.0.1:9/sdp', authToken: 'old-tech-key' },
    });
    const rotated = await admin('POST', '/v1/admin/tenants/keyed/helpdesk-key', { key: 'new-tech-key' });
    expect(rotated.statusCode).toBe(200);
    expect(rotated.body).not.toContain('new-tech-key');
    t.services.registry.forget('keyed');
    expect((await t.services.registry.get('keyed'))?.writeback).toEqual({
      type: 'servicedesk-plus',
      baseUrl: 'http://127.0.0.1:9/sdp',
      authToken: 'new-tech-key',
    });
    await admin('POST', '/v1/admin/tenants', { id: 'keyless' });
    expect((await admin('POST', '/v1/admin/tenants/keyless/helpdesk-key', { key: 'k' })).statusCode).toBe(400);
  });

  it('deletes with purge only when confirmed, removing streams, DLQ, markers, rows and archive, and reports it', async () => {
    const { redis, keys, db } = t.services;
    const { secret } = (await admin('POST', '/v1/admin/tenants', { id: 'doomed' })).json();
    await admin('POST', '/v1/admin/tenants', { id: 'survivor' });
    for (const id of ['D-1', 'D-2', 'D-3']) expect((await sendSigned('doomed', secret, id)).statusCode).toBe(202);
    await redis.xadd(keys.dlq('doomed'), '*', 'entry', '1-0', 'group', 'context', 'code', 'INTERNAL', 'message', 'x');
    const archived = `INSERT INTO events (tenant_id, stream_id, event_id, type, version, ticket_id, causation_id, correlation_id, traceparent, data, occurred_at)
                      VALUES ($1, '1-0', $2, 'ticket.received', 1, 'D-1', '', '', '', '{}', now())`;
    await db.query(archived, ['doomed', '0190a6f0-0000-7000-8000-000000000001']);
    await db.query(archived, ['survivor', '0190a6f0-0000-7000-8000-000000000002']);
    await db.query(
      `INSERT INTO assets (tenant_id, asset_id, hostname, network) VALUES ('doomed', 'a1', 'host', '10.0.0.0/24')`,
    );

    const unconfirmed = await admin('DELETE', '/v1/admin/tenants/doomed?purge=true');
    expect(unconfirmed.statusCode).toBe(400);
    expect(await redis.xlen(keys.events('doomed'))).toBe(3);

    const deleted = await admin('DELETE', '/v1/admin/tenants/doomed?purge=true&confirm=doomed');
    expect(deleted.statusCode).toBe(200);
    const report = deleted.json();
    expect(report).toMatchObject({
      tenant: 'doomed',
      registration: true,
      redis: { streamEntries: 3, deadLetters: 1 },
      postgres: { events: 1, assets: 1, tickets: 0 },
    });
    expect(report.redis.keys).toBeGreaterThanOrEqual(5); // stream, DLQ, three delivery markers, dedupe markers
    const [, left] = (await redis.scan('0', 'MATCH', keys.tenantKeyPattern('doomed'), 'COUNT', 10_000)) as [
      string,
      string[],
    ];
    expect(left).toEqual([]);
    expect(await redis.exists(`${t.config.redisPrefix}:tenant:doomed`)).toBe(0);
    expect(await redis.sismember(keys.tenantIds, 'doomed')).toBe(0);
    expect((await db.query(`SELECT count(*)::int AS n FROM events WHERE tenant_id = 'doomed'`)).rows[0].n).toBe(0);
    expect((await db.query(`SELECT count(*)::int AS n FROM events WHERE tenant_id = 'survivor'`)).rows[0].n).toBe(1);
    // Gone means gone: its old secret is refused like any unknown tenant.
    expect((await sendSigned('doomed', secret, 'D-4')).statusCode).toBe(401);
    expect((await admin('GET', '/v1/admin/tenants/doomed')).statusCode).toBe(404);
  });
});

describe('secrets at rest', () => {
  it('keeps no secret, token or helpdesk key in plain text in Redis, and names the key that sealed each', async () => {
    const created = await t.services.registry.create({
      id: 'sealed',
      writeback: { type: 'servicedesk-plus', baseUrl: 'http://127.0.0.1:9/sdp-x', authToken: 'tech-key-PLAIN' },
    });
    await t.services.registry.rotateSecret('sealed');
    const raw = await rawEntity('sealed');
    const everything = JSON.stringify(raw);
    expect(everything).not.toContain(created.secret);
    expect(everything).not.toContain('tech-key-PLAIN');
    expect(everything).not.toContain('127.0.0.1:9/sdp-x');
    expect(everything).not.toContain('whsec_');
    for (const field of ['secret', 'previousSecret', 'writeback']) expect(raw[field]).toMatch(/^enc:v1:[0-9a-f]{12}:/);
  });

  it('reads values sealed with an earlier key after a key rotation, and reseals them with the new key', async () => {
    const { secret } = await t.services.registry.create({
      id: 'rekeyed',
      writeback: { type: 'webhook', url: 'http://127.0.0.1:9/hooks', secret: 'hook-secret-0123456789' },
    });
    const firstKeyId = /^enc:v1:([0-9a-f]{12}):/.exec((await rawEntity('rekeyed')).secret ?? '')?.[1];

    const withoutOldKey = await TenantRegistry.connect({ ...t.config, secretsKey: secondKey, secretsPreviousKeys: [] });
    await expect(withoutOldKey.get('rekeyed')).rejects.toMatchObject({ code: 'ENCRYPTION_KEY_UNKNOWN' });
    await withoutOldKey.close();

    const rotated = await TenantRegistry.connect({
      ...t.config,
      secretsKey: secondKey,
      secretsPreviousKeys: [firstKey],
    });
    expect((await rotated.get('rekeyed'))?.secret).toBe(secret);
    expect(await rotated.reseal()).toBeGreaterThanOrEqual(1);
    await rotated.close();
    const newKeyId = /^enc:v1:([0-9a-f]{12}):/.exec((await rawEntity('rekeyed')).secret ?? '')?.[1];
    expect(newKeyId).toBeDefined();
    expect(newKeyId).not.toBe(firstKeyId);

    const onlyNewKey = await TenantRegistry.connect({ ...t.config, secretsKey: secondKey, secretsPreviousKeys: [] });
    expect((await onlyNewKey.get('rekeyed'))?.writeback).toEqual({
      type: 'webhook',
      url: 'http://127.0.0.1:9/hooks',
      secret: 'hook-secret-0123456789',
    });
    await onlyNewKey.close();
  });

  it('without a key (the quickstart), stores values readable and marked as plain', async () => {
    const plain = await TenantRegistry.connect({ ...t.config, secretsKey: undefined, secretsPreviousKeys: [] });
    expect(plain.encryptsSecrets).toBe(false);
    const { secret } = await plain.create({ id: 'plainly' });
    expect((await rawEntity('plainly')).secret).toBe(`plain:${secret}`);
    expect((await plain.get('plainly'))?.secret).toBe(secret);
    await plain.close();
    // The encrypting registry still reads what was stored in plain text.
    expect((await t.services.registry.get('plainly'))?.secret).toBe(secret);
  });
});
