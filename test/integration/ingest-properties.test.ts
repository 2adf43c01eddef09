import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorCatalogue } from '../../src/errors.js';
import { signWebhook } from '../../src/webhook-signature.js';
import { ingestApp } from '../support/app.js';
import { createTestEnv, type TestEnv } from '../support/env.js';
import { rawRequest } from '../support/raw-http.js';

let t: TestEnv;
let app: FastifyInstance;
let port: number;
let secret: string;

beforeAll(async () => {
  // Short HTTP bounds: a generated request whose body is shorter than its Content-Length is answered 408 quickly.
  t = await createTestEnv({ HTTP_REQUEST_TIMEOUT_MS: '1000', HTTP_HEADERS_TIMEOUT_MS: '1000' });
  const { services } = t;
  app = await ingestApp(t.config, services);
  await app.listen({ port: 0, host: '127.0.0.1' });
  port = (app.server.address() as AddressInfo).port;
  secret = (await services.registry.create({ id: 'acme' })).secret;
});

afterAll(async () => {
  await app?.close();
  await t?.cleanup();
});

const streamLength = () => t.services.redis.xlen(t.services.keys.events('acme'));

/** Text with what breaks naive handling: NUL, lone surrogates, emoji, quotes, escapes, markup, any code point. */
const nastyText = fc
  .array(
    fc.oneof(
      fc.string({ unit: 'binary', maxLength: 20 }),
      fc.constantFrom('\u0000', '\ud800', '\udfff', '😀', '"', '\\', '\n', '<b>x</b>', '%00', '\u202e', '\ufeff'),
    ),
    { maxLength: 6 },
  )
  .map((parts) => parts.join(''));

/** Mostly text that should be accepted (any well-formed code points, quotes, newlines, emoji), sometimes nasty text. */
const fieldText = (maxLength: number) =>
  fc.oneof(
    { weight: 4, arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength }) },
    { weight: 1, arbitrary: nastyText },
  );

const ticket = fc.record(
  {
    id: fc.oneof(fieldText(40), fc.integer(), fc.string({ maxLength: 200 })),
    subject: fieldText(80),
    description: fc.oneof(fieldText(500), fc.constant(''), fc.string({ unit: 'binary', maxLength: 3_000 })),
    priority: fieldText(10),
    category: fieldText(20),
    requester: fc.record({ name: fieldText(20), email: fc.oneof(fc.emailAddress(), nastyText) }, { requiredKeys: [] }),
    createdAt: fc.oneof(
      fc
        .date({ noInvalidDate: true, min: new Date(0), max: new Date(4_102_444_800_000) })
        .map((date) => date.toISOString()),
      nastyText,
    ),
  },
  { requiredKeys: ['id', 'subject', 'description'] },
);
const ticketJson = fc
  .record({ event: fc.constantFrom('ticket.created', 'ticket.updated', 'ticket.deleted'), ticket })
  .map((body) => JSON.stringify(body));

const bodyText = fc.oneof(
  { weight: 4, arbitrary: ticketJson },
  { weight: 1, arbitrary: fc.json() },
  { weight: 1, arbitrary: nastyText },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '',
      '{',
      '[]',
      'null',
      '{"__proto__":{"x":1}}',
      '{"constructor":{"prototype":{}}}',
      '{"event":"ticket.created","ticket":{"id":"x","subject":"s","description":"d"}}',
    ),
  },
);

/** How the text goes on the wire: mostly UTF-8, sometimes another encoding, raw bytes, or more than the limit. */
const body = fc.oneof(
  { weight: 6, arbitrary: bodyText.map((text) => Buffer.from(text, 'utf8')) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(bodyText, fc.constantFrom<BufferEncoding>('utf16le', 'latin1', 'base64'))
      .map(([text, encoding]) => Buffer.from(text, encoding)),
  },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 300 }).map((bytes) => Buffer.from(bytes)) },
  { weight: 1, arbitrary: fc.constant(Buffer.alloc(257 * 1024, 0x20)) },
);

const contentType = fc.oneof(
  { weight: 6, arbitrary: fc.constant('application/json') },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      'application/json; charset=utf-8',
      'application/json; charset=utf-16',
      'application/vnd.api+json',
      'APPLICATION/JSON',
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'text/html',
      'application/xml',
      '*/*',
      ';;',
      'application/json;',
      'application/json; charset',
    ),
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 40 }) },
);

/** Tenant ids as they appear in the URL path, percent-encoded byte by byte (a lone surrogate becomes its WTF-8 bytes, which are not UTF-8). */
const tenantSegment = fc.oneof(
  { weight: 6, arbitrary: fc.constant('acme') },
  { weight: 1, arbitrary: fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,62}$/) },
  {
    weight: 1,
    arbitrary: nastyText.map((text) =>
      [...Buffer.from(text, 'utf8')].map((byte) => `%${byte.toString(16).padStart(2, '0')}`).join(''),
    ),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '%ED%A0%80',
      '%00',
      '%zz',
      'a'.repeat(64),
      'a'.repeat(600),
      'ACME',
      '-acme',
      'acme%2Fx',
      '..',
      '%2e%2e',
    ),
  },
);

const timestamp = fc.oneof(
  { weight: 6, arbitrary: fc.constant('now') },
  { weight: 1, arbitrary: fc.constantFrom('stale', 'future', 'missing') },
  { weight: 1, arbitrary: fc.string({ maxLength: 20 }) },
);

const randomRequest = fc.record({
  tenant: tenantSegment,
  body,
  contentType,
  timestamp,
  signature: fc.constantFrom('valid', 'valid', 'valid', 'wrong', 'missing', 'garbage'),
  delivery: fc.option(
    fc.oneof(fc.string({ maxLength: 30 }), fc.stringMatching(/^[A-Za-z0-9._:-]{1,40}$/), fc.constant('x'.repeat(300))),
    { nil: undefined },
  ),
  extraHeaders: fc.dictionary(fc.stringMatching(/^x-[a-z-]{1,20}$/), fc.string({ maxLength: 50 }), { maxKeys: 3 }),
});

type Generated = typeof randomRequest extends fc.Arbitrary<infer T> ? T : never;

/** Half the requests are well-formed signed webhooks with random tickets, so the accepting path is explored as much as the refusals. */
const request = fc.oneof(
  randomRequest,
  fc.tuple(randomRequest, ticketJson).map(([generated, json]): Generated => ({
    ...generated,
    tenant: 'acme',
    body: Buffer.from(json),
    contentType: 'application/json',
    timestamp: 'now',
    signature: 'valid',
  })),
);

function headersOf(generated: Generated): Record<string, string> {
  const now = Math.floor(Date.now() / 1_000);
  const ts =
    { now: String(now), stale: String(now - 3_600), future: String(now + 3_600), missing: undefined }[
      generated.timestamp
    ] ?? generated.timestamp;
  const signature = {
    valid: signWebhook(secret, ts ?? '', generated.body),
    wrong: signWebhook('whsec_not-the-secret', ts ?? '', generated.body),
    garbage: 'v1=zz',
    missing: undefined,
  }[generated.signature];
  const headers: Record<string, string> = { ...generated.extraHeaders, 'content-type': generated.contentType };
  if (ts !== undefined) headers['x-streamdesk-timestamp'] = ts;
  if (signature !== undefined) headers['x-streamdesk-signature'] = signature;
  if (generated.delivery !== undefined) headers['x-streamdesk-delivery'] = generated.delivery;
  return headers;
}

/** A 202 with the documented body, or a documented 4xx: the code is in the catalogue with this very status. */
function expectOnContract(status: number, text: string): { duplicate?: boolean } {
  const body = JSON.parse(text) as Record<string, unknown>;
  if (status === 202) {
    expect(body).toEqual({ eventId: expect.stringMatching(/^[0-9a-f-]{36}$/), duplicate: expect.any(Boolean) });
    return body as { duplicate: boolean };
  }
  expect(status).toBeGreaterThanOrEqual(400);
  expect(status).toBeLessThan(500);
  expect(Object.keys(body)).toEqual(['error']);
  const error = body.error as { code: keyof typeof errorCatalogue; message: unknown };
  expect(
    Object.keys(error)
      .filter((key) => key !== 'details')
      .sort(),
  ).toEqual(['code', 'message']);
  expect(typeof error.message).toBe('string');
  expect(errorCatalogue[error.code]?.status, `status of ${String(error.code)}`).toBe(status);
  return {};
}

describe('webhook properties (fast-check)', () => {
  it('answers any request with a 202 or a documented 4xx, appends only for a first 202, and what it appends Postgres can store', async () => {
    let accepted = 0;
    await fc.assert(
      fc.asyncProperty(request, async (generated) => {
        const before = await streamLength();
        const response = await app.inject({
          method: 'POST',
          url: `/v1/webhooks/${generated.tenant}/tickets`,
          payload: generated.body,
          headers: headersOf(generated),
        });
        const { duplicate } = expectOnContract(response.statusCode, response.body);
        const appended = (await streamLength()) - before;
        expect(appended).toBe(response.statusCode === 202 && duplicate === false ? 1 : 0);
        if (appended === 1) {
          accepted += 1;
          const [[, fields]] = (await t.services.redis.xrevrange(
            t.services.keys.events('acme'),
            '+',
            '-',
            'COUNT',
            1,
          )) as [[string, string[]]];
          const data = fields[fields.indexOf('data') + 1]!;
          // What the projector and archiver will write: jsonb and text both take it.
          await t.services.db.query("SELECT $1::jsonb, ($1::jsonb -> 'ticket' ->> 'subject')::text", [data]);
        }
      }),
      { numRuns: 400 },
    );
    // The generators reach the accepting path too, not only the refusals.
    expect(accepted).toBeGreaterThan(0);
  });

  it('answers admin requests with arbitrary path segments, bodies and content types with a 2xx or a documented 4xx', async () => {
    const admin = fc.record({
      route: fc.constantFrom('ticket', 'dlq', 'redrive', 'create'),
      tenant: tenantSegment,
      ticketId: tenantSegment,
      body,
      contentType,
    });
    await fc.assert(
      fc.asyncProperty(admin, async ({ route, tenant, ticketId, body: payload, contentType: type }) => {
        const request = {
          ticket: { method: 'GET', url: `/v1/admin/tenants/${tenant}/tickets/${ticketId}` },
          dlq: { method: 'GET', url: `/v1/admin/tenants/${tenant}/dlq?limit=${ticketId}` },
          redrive: { method: 'POST', url: `/v1/admin/tenants/${tenant}/dlq/redrive` },
          create: { method: 'POST', url: '/v1/admin/tenants' },
        }[route] as { method: 'GET' | 'POST'; url: string };
        const response = await app.inject({
          ...request,
          headers: {
            authorization: 'Bearer test-admin-token-0123456789',
            ...(request.method === 'POST' ? { 'content-type': type } : {}),
          },
          ...(request.method === 'POST' ? { payload } : {}),
        });
        if (response.statusCode === 200 || response.statusCode === 201) return;
        expectOnContract(response.statusCode, response.body);
      }),
      { numRuns: 300 },
    );
  });

  it('answers arbitrary raw HTTP on a real socket with a documented 4xx or a 202, and stays healthy', async () => {
    const rawHeader = fc.tuple(
      fc.string({ unit: 'binary-ascii', minLength: 1, maxLength: 20 }),
      fc.string({ unit: 'binary-ascii', maxLength: 60 }),
    );
    const raw = fc.record({
      method: fc.constantFrom('POST', 'GET', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'BREW', 'post'),
      path: fc.oneof(
        fc.constant('/v1/webhooks/acme/tickets'),
        tenantSegment.map((tenant) => `/v1/webhooks/${tenant}/tickets`),
        fc.string({ unit: 'binary-ascii', maxLength: 40 }).map((path) => `/${path}`),
      ),
      version: fc.constantFrom('HTTP/1.1', 'HTTP/1.1', 'HTTP/1.0', 'HTTP/2.0', 'HTTP/1.1x'),
      headers: fc.array(rawHeader, { maxLength: 4 }),
      body: body.filter((bytes) => bytes.length < 10_000),
      length: fc.constantFrom('exact', 'exact', 'short', 'garbage', 'negative', 'chunked', 'none'),
    });
    await fc.assert(
      fc.asyncProperty(raw, async (generated) => {
        const before = await streamLength();
        const lengthHeader = {
          exact: `Content-Length: ${generated.body.length}`,
          short: `Content-Length: ${Math.max(0, generated.body.length - 1)}`,
          garbage: 'Content-Length: 12abc',
          negative: 'Content-Length: -1',
          chunked: 'Transfer-Encoding: chunked',
          none: '',
        }[generated.length];
        const head = [
          `${generated.method} ${generated.path} ${generated.version}`,
          'Host: x',
          'Connection: close',
          'Content-Type: application/json',
          lengthHeader,
          ...generated.headers.map(([name, value]) => `${name}: ${value}`),
        ].filter(Boolean);
        const response = await rawRequest(
          port,
          Buffer.concat([Buffer.from(`${head.join('\r\n')}\r\n\r\n`, 'latin1'), generated.body]),
        );
        expect(response.status).not.toBeGreaterThanOrEqual(500);
        // Only the webhook route may answer 2xx, and health and metrics routes are not among the paths generated.
        if (response.status === 202 || response.status >= 400) expectOnContract(response.status, response.body);
        else expect(response.status).toBe(204);
        if (response.status !== 202) expect(await streamLength()).toBe(before);
      }),
      { numRuns: 150 },
    );
    const health = await rawRequest(port, 'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(health).toMatchObject({ status: 200, body: '{"status":"ok"}' });
    const ready = await rawRequest(port, 'GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(ready.status).toBe(200);
  });
});
