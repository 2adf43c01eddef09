// The k6 load test signs webhooks with its own JavaScript (loadtest/lib). These tests run that very
// code in Node, with node:crypto standing in for k6/crypto, and check that the server agrees: same
// signature as src/webhook-signature.ts, bodies valid for the webhook schema, and a 202 from the real
// route. A drift between the load test and the contract fails here instead of as a wall of 401s.
import { createHmac } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { signWebhook, verifyWebhookSignature } from '../../src/webhook-signature.js';
import { webhookBodySchema } from '../../src/ingest/webhook.js';
import { ingestApp } from '../support/app.js';
import { createTestEnv, type TestEnv } from '../support/env.js';

type Tenant = { id: string; secret: string };
type HmacSha256Hex = (secret: string, data: string) => string;
type WebhookBody = {
  event: 'ticket.created' | 'ticket.updated';
  ticket: { id: string; subject: string; description: string } & Record<string, unknown>;
};
type SignedRequest = { path: string; body: string; headers: Record<string, string> };
/** The exports of loadtest/lib/ticket.js (JavaScript typed by JSDoc, checked by `tsc -p loadtest`). */
type TicketModule = {
  tenantIdPattern: RegExp;
  deliveryIdPattern: RegExp;
  parseTenants(spec: string): Tenant[];
  webhookPath(tenantId: string): string;
  signatureHeader(hmacSha256Hex: HmacSha256Hex, secret: string, timestamp: number | string, rawBody: string): string;
  signedWebhook(
    hmacSha256Hex: HmacSha256Hex,
    request: { tenant: Tenant; body: WebhookBody; deliveryId: string; timestamp?: number },
  ): SignedRequest;
  newRunId(): string;
  ticketCreatedBody(input: { runId: string; sequence: number; tenantId: string; now?: Date }): WebhookBody;
  deliveryIdFor(runId: string, sequence: number): string;
};
/** The exports of loadtest/lib/sign.js, the k6 binding. */
type SignModule = { signedTicketCreated(input: { tenant: Tenant; runId: string; sequence: number }): SignedRequest };

const nodeHmacSha256Hex: HmacSha256Hex = (secret, data) =>
  createHmac('sha256', secret).update(data, 'utf8').digest('hex');

// k6/crypto exists only inside k6: stand in for its hmac(algorithm, secret, data, encoding) and
// record the arguments, so the binding's choice of algorithm and encoding is checked too.
const k6HmacCalls: string[][] = [];
vi.mock('k6/crypto', () => ({
  hmac(algorithm: string, secret: string, data: string, outputEncoding: string) {
    k6HmacCalls.push([algorithm, outputEncoding]);
    return createHmac(algorithm, secret)
      .update(data, 'utf8')
      .digest(outputEncoding === 'hex' ? 'hex' : 'base64');
  },
}));

// Not static imports: the root TypeScript project does not compile JavaScript, and the load test's
// own types are checked by `tsc -p loadtest`.
const ticketModulePath = '../../loadtest/lib/ticket.js';
const signModulePath = '../../loadtest/lib/sign.js';
const k6Ticket = (await import(ticketModulePath)) as TicketModule;
const k6Sign = (await import(signModulePath)) as SignModule;

const acme: Tenant = { id: 'acme', secret: 'whsec_0123456789abcdef0123456789abcdef' };

describe('load test signing (loadtest/lib) against the server contract', () => {
  it('produces the same X-Streamdesk-Signature as signWebhook for ASCII and UTF-8 bodies', () => {
    const bodies = [
      '{}',
      JSON.stringify({
        event: 'ticket.created',
        ticket: { id: 'T-1', subject: "Zoë can't print — “again”", description: 'Gerät 10.0.0.5 😀' },
      }),
    ];
    for (const body of bodies) {
      for (const timestamp of [1_700_000_000, '1700000123']) {
        expect(k6Ticket.signatureHeader(nodeHmacSha256Hex, acme.secret, timestamp, body)).toBe(
          signWebhook(acme.secret, timestamp, body),
        );
      }
    }
  });

  it('signs exactly the bytes it sends, with headers the server verifies', () => {
    const now = 1_750_000_000;
    const body = k6Ticket.ticketCreatedBody({ runId: 'run1', sequence: 1, tenantId: acme.id });
    const request = k6Ticket.signedWebhook(nodeHmacSha256Hex, {
      tenant: acme,
      body,
      deliveryId: k6Ticket.deliveryIdFor('run1', 1),
      timestamp: now,
    });

    expect(request.path).toBe('/v1/webhooks/acme/tickets');
    expect(JSON.parse(request.body)).toEqual(body);
    expect(request.headers).toEqual({
      'Content-Type': 'application/json',
      'X-Streamdesk-Timestamp': String(now),
      'X-Streamdesk-Signature': signWebhook(acme.secret, now, request.body),
      'X-Streamdesk-Delivery': 'k6-run1-1',
    });
    expect(() =>
      verifyWebhookSignature({
        secret: acme.secret,
        timestamp: request.headers['X-Streamdesk-Timestamp'],
        signature: request.headers['X-Streamdesk-Signature'],
        rawBody: Buffer.from(request.body, 'utf8'),
        toleranceSeconds: 300,
        nowSeconds: now,
      }),
    ).not.toThrow();
    expect(() =>
      verifyWebhookSignature({
        secret: 'another-secret',
        timestamp: String(now),
        signature: request.headers['X-Streamdesk-Signature'],
        rawBody: Buffer.from(request.body, 'utf8'),
        toleranceSeconds: 300,
        nowSeconds: now,
      }),
    ).toThrow(/does not match/);
  });

  it('the k6 binding (sign.js) uses HMAC-SHA256 as hex and agrees with signWebhook', () => {
    k6HmacCalls.length = 0;
    const request = k6Sign.signedTicketCreated({ tenant: acme, runId: 'run2', sequence: 7 });
    const timestamp = request.headers['X-Streamdesk-Timestamp'] ?? '';
    expect(k6HmacCalls).toEqual([['sha256', 'hex']]);
    expect(timestamp).toMatch(/^\d{10}$/);
    expect(Math.abs(Number(timestamp) - Date.now() / 1_000)).toBeLessThan(60);
    expect(request.headers['X-Streamdesk-Signature']).toBe(signWebhook(acme.secret, timestamp, request.body));
    expect(request.headers['X-Streamdesk-Delivery']).toBe('k6-run2-7');
  });

  it('builds bodies that the webhook schema accepts unchanged, for every ticket template', () => {
    for (let sequence = 0; sequence < 30; sequence += 1) {
      const body = k6Ticket.ticketCreatedBody({ runId: 'run3', sequence, tenantId: 'globex-eu' });
      const parsed = webhookBodySchema.safeParse(JSON.parse(JSON.stringify(body)));
      expect(parsed.success, JSON.stringify(parsed.error?.issues)).toBe(true);
      expect(parsed.data).toEqual(body);
      expect(body.event).toBe('ticket.created');
    }
  });

  it('gives every ticket and delivery a new id, within a run and across runs', () => {
    const runs = [k6Ticket.newRunId(), k6Ticket.newRunId()];
    expect(runs[0]).not.toBe(runs[1]);
    const ticketIds = new Set<string>();
    const deliveryIds = new Set<string>();
    for (const runId of runs) {
      for (let sequence = 0; sequence < 500; sequence += 1) {
        ticketIds.add(k6Ticket.ticketCreatedBody({ runId, sequence, tenantId: 'acme' }).ticket.id);
        const deliveryId = k6Ticket.deliveryIdFor(runId, sequence);
        expect(deliveryId).toMatch(k6Ticket.deliveryIdPattern);
        deliveryIds.add(deliveryId);
      }
    }
    expect(ticketIds.size).toBe(1_000);
    expect(deliveryIds.size).toBe(1_000);
  });

  it('parses TENANTS and rejects what the server would refuse', () => {
    expect(k6Ticket.parseTenants(' acme:whsec_a , globex-eu:whsec:with:colons ')).toEqual([
      { id: 'acme', secret: 'whsec_a' },
      { id: 'globex-eu', secret: 'whsec:with:colons' },
    ]);
    expect(() => k6Ticket.parseTenants('')).toThrow(/TENANTS is empty/);
    expect(() => k6Ticket.parseTenants('Acme:x')).toThrow(/not a tenant id/);
    expect(() => k6Ticket.parseTenants('acme')).toThrow(/has no secret/);
    expect(() => k6Ticket.parseTenants('acme:x,acme:y')).toThrow(/listed twice/);
    expect(() =>
      k6Ticket.signedWebhook(nodeHmacSha256Hex, {
        tenant: acme,
        body: k6Ticket.ticketCreatedBody({ runId: 'r', sequence: 0, tenantId: 'acme' }),
        deliveryId: 'has space',
      }),
    ).toThrow(/delivery id/);
  });
});

describe('load test requests through the real webhook route', () => {
  let t: TestEnv;
  let app: FastifyInstance;
  let tenants: Tenant[];

  beforeAll(async () => {
    t = await createTestEnv();
    const { services } = t;
    app = await ingestApp(t.config, services);
    tenants = await Promise.all(
      ['acme', 'globex-eu'].map(async (id) => {
        const created = await services.registry.create({ id });
        return { id: created.id, secret: created.secret };
      }),
    );
  });

  afterAll(async () => {
    await app?.close();
    await t?.cleanup();
  });

  it('answers 202 with an eventId to what k6 sends, for each tenant, and 401 to a wrong secret', async () => {
    const runId = k6Ticket.newRunId();
    for (const [sequence, tenant] of tenants.entries()) {
      const request = k6Sign.signedTicketCreated({ tenant, runId, sequence });
      const response = await app.inject({
        method: 'POST',
        url: request.path,
        payload: request.body,
        headers: request.headers,
      });
      expect(response.statusCode, response.body).toBe(202);
      expect(response.json()).toEqual({ eventId: expect.stringMatching(/^[0-9a-f-]{36}$/), duplicate: false });
    }
    const forged = k6Sign.signedTicketCreated({
      tenant: { id: 'acme', secret: 'not-the-secret' },
      runId,
      sequence: 99,
    });
    const refused = await app.inject({
      method: 'POST',
      url: forged.path,
      payload: forged.body,
      headers: forged.headers,
    });
    expect(refused.statusCode).toBe(401);
  });
});
