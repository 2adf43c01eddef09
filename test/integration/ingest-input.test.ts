import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsageError, main } from '../../src/cli/main.js';
import { errorCatalogue } from '../../src/errors.js';
import { storableString } from '../../src/storable.js';
import { signWebhook } from '../../src/webhook-signature.js';
import { ingestApp } from '../support/app.js';
import { createTestEnv, type TestEnv } from '../support/env.js';
import { rawRequest, type RawResponse } from '../support/raw-http.js';
import { signedHeaders } from '../support/webhook.js';

let t: TestEnv;
let app: FastifyInstance;
let port: number;
let secret: string;
const adminAuth = 'Bearer test-admin-token-0123456789';

const streamLength = () => t.services.redis.xlen(t.services.keys.events('acme'));

beforeAll(async () => {
  t = await createTestEnv();
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

/** The documented error shape, with a code from the catalogue and that code's status. */
function expectDocumentedError(
  response: { status: number; body: string },
  code: keyof typeof errorCatalogue,
): { code: string; message: string; details?: unknown } {
  const body = JSON.parse(response.body) as { error: { code: string; message: string; details?: unknown } };
  expect(Object.keys(body)).toEqual(['error']);
  expect(body.error).toMatchObject({ code, message: expect.any(String) });
  expect(response.status).toBe(errorCatalogue[code].status);
  return body.error;
}

const send = async (request: string): Promise<RawResponse> => rawRequest(port, request);

describe('text Postgres cannot store', () => {
  it('storableString() is a zod string that refuses it and keeps its other checks', () => {
    const name = storableString().min(1).max(5);
    expect(name.safeParse('Acme').success).toBe(true);
    expect(name.safeParse('😀').success).toBe(true);
    expect(name.safeParse('A\u0000').error?.issues[0]?.message).toMatch(/NUL/);
    expect(name.safeParse('\ud83d').error?.issues[0]?.message).toMatch(/surrogate/);
    expect(name.safeParse('toolong').success).toBe(false);
  });

  it.each([
    ['a NUL character', '\u0000', 'body.ticket.subject'],
    ['a lone high surrogate', '\ud800', 'body.ticket.subject'],
    ['a lone low surrogate', 'x\udc00y', 'body.ticket.subject'],
  ])('refuses %s in a webhook field with 400 naming the field, and appends nothing', async (_name, text, path) => {
    const body = JSON.stringify({
      event: 'ticket.created',
      ticket: { id: 'N-1', subject: `VPN ${text} down`, description: 'x' },
    });
    expect(body).toContain('\\u'); // JSON.stringify escapes both: the bytes on the wire are plain ASCII
    const before = await streamLength();
    const response = await app.inject({
      method: 'POST',
      url: '/v1/webhooks/acme/tickets',
      payload: body,
      headers: signedHeaders(secret, body),
    });
    const error = expectDocumentedError({ status: response.statusCode, body: response.body }, 'BAD_REQUEST');
    expect(error.message).toContain(path);
    expect(error.details).toEqual([{ path, message: expect.stringMatching(/cannot be stored/) }]);
    expect(await streamLength()).toBe(before);
  });

  it('refuses them in fields the schema does not read, in keys and in nested objects', async () => {
    const body =
      '{"event":"ticket.created","ticket":{"id":"N-2","subject":"s","description":"d","requester":{"name":"A\\u0000"}},"extra\\ud83d":1}';
    const response = await app.inject({
      method: 'POST',
      url: '/v1/webhooks/acme/tickets',
      payload: body,
      headers: signedHeaders(secret, body),
    });
    const error = expectDocumentedError({ status: response.statusCode, body: response.body }, 'BAD_REQUEST');
    expect((error.details as { path: string }[]).map((detail) => detail.path)).toEqual([
      'body.ticket.requester.name',
      'body."extra\\ud83d"',
    ]);
  });

  it('keeps well-formed text: emoji (surrogate pairs), escapes and other control characters are stored', async () => {
    const body = JSON.stringify({
      event: 'ticket.created',
      ticket: { id: 'N-3', subject: 'Printer 🖨️ "jammed"', description: 'line\nnext\ttab \u0001 \\ <b>x</b>' },
    });
    const response = await app.inject({
      method: 'POST',
      url: '/v1/webhooks/acme/tickets',
      payload: body,
      headers: signedHeaders(secret, body),
    });
    expect(response.statusCode).toBe(202);
  });

  it('refuses a body that is not UTF-8 instead of replacing its bytes', async () => {
    const body = Buffer.concat([
      Buffer.from('{"event":"ticket.created","ticket":{"id":"N-4","subject":"'),
      Buffer.from([0xc3, 0x28]),
      Buffer.from('","description":"d"}}'),
    ]);
    const before = await streamLength();
    const timestamp = String(Math.floor(Date.now() / 1_000));
    const headers = {
      'content-type': 'application/json',
      'x-streamdesk-timestamp': timestamp,
      'x-streamdesk-signature': signWebhook(secret, timestamp, body),
    };
    const response = await app.inject({ method: 'POST', url: '/v1/webhooks/acme/tickets', payload: body, headers });
    expectDocumentedError({ status: response.statusCode, body: response.body }, 'INVALID_JSON');
    expect(await streamLength()).toBe(before);
  });

  it('answers GET /v1/admin/tenants/acme/tickets/a%00b with 400 naming the parameter, over a real socket', async () => {
    const response = await send(
      `GET /v1/admin/tenants/acme/tickets/a%00b HTTP/1.1\r\nHost: x\r\nAuthorization: ${adminAuth}\r\nConnection: close\r\n\r\n`,
    );
    const error = expectDocumentedError(response, 'BAD_REQUEST');
    expect(error.message).toContain('params.ticketId');
    const surrogate = await send(
      `GET /v1/admin/tenants/acme/tickets/%ED%A0%80 HTTP/1.1\r\nHost: x\r\nAuthorization: ${adminAuth}\r\nConnection: close\r\n\r\n`,
    );
    expectDocumentedError(surrogate, 'INVALID_URL');
  });

  it('refuses them in admin bodies and in query strings', async () => {
    const created = await app.inject({
      method: 'POST',
      url: '/v1/admin/tenants',
      headers: { authorization: adminAuth },
      payload: { id: 'nul-name', name: 'Acme\u0000Corp' },
    });
    expect(expectDocumentedError({ status: created.statusCode, body: created.body }, 'BAD_REQUEST').message).toContain(
      'body.name',
    );
    expect(await t.services.registry.get('nul-name')).toBeUndefined();
    const redrive = await app.inject({
      method: 'POST',
      url: '/v1/admin/tenants/acme/dlq/redrive',
      headers: { authorization: adminAuth },
      payload: { ids: ['1-0\ud800'] },
    });
    expect(expectDocumentedError({ status: redrive.statusCode, body: redrive.body }, 'BAD_REQUEST').message).toContain(
      'body.ids.0',
    );
    const query = await app.inject({
      method: 'GET',
      url: '/v1/admin/tenants/acme/dlq?x=%00',
      headers: { authorization: adminAuth },
    });
    expect(expectDocumentedError({ status: query.statusCode, body: query.body }, 'BAD_REQUEST').message).toContain(
      'query.x',
    );
  });

  it('refuses them in command-line arguments, naming the argument', async () => {
    await expect(main(['tenant', 'create', 'acme2', '--name', 'A\u0000'])).rejects.toThrow(
      new UsageError('argument 5: contains a NUL character (U+0000), which cannot be stored'),
    );
    await expect(main(['dlq', 'list', '--tenant', '\udfff'])).rejects.toThrow(UsageError);
    await expect(
      main([
        'tenant',
        'create',
        'acme2',
        '--writeback-json',
        '{"type":"webhook","url":"https://example.com/\\u0000","secret":"0123456789abcdef"}',
      ]),
    ).rejects.toThrow(/writeback\.url: contains a NUL/);
  });
});

describe('every error a client can cause has the documented shape', () => {
  it.each<[string, string, keyof typeof errorCatalogue]>([
    [
      'a tenant id longer than a path segment may be',
      `POST /v1/webhooks/${'a'.repeat(600)}/tickets HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}`,
      'URI_TOO_LONG',
    ],
    [
      'a tenant id longer than 63 characters',
      `POST /v1/webhooks/${'a'.repeat(100)}/tickets HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}`,
      'INVALID_TENANT_ID',
    ],
    ['a URL over the header size limit', `GET /${'a'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`, 'HEADERS_TOO_LARGE'],
    ['an invalid percent-encoding', 'GET /v1/admin/tenants/%zz/dlq HTTP/1.1\r\nHost: x\r\n\r\n', 'INVALID_URL'],
    [
      'a Content-Length that is not a number',
      'POST /v1/webhooks/acme/tickets HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: abc\r\n\r\n{}',
      'MALFORMED_REQUEST',
    ],
    [
      'two different Content-Lengths',
      'POST /v1/webhooks/acme/tickets HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}',
      'MALFORMED_REQUEST',
    ],
    ['a request line that is not HTTP', '\u0001\u0002 garbage\r\n\r\n', 'MALFORMED_REQUEST'],
    ['a header with a NUL byte', 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-Bad: a\u0000b\r\n\r\n', 'MALFORMED_REQUEST'],
    [
      'a body that is not JSON',
      'POST /v1/admin/tenants HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer test-admin-token-0123456789\r\nContent-Type: application/json\r\nContent-Length: 3\r\n\r\n{x}',
      'INVALID_JSON',
    ],
    [
      'an admin body that is text/plain',
      'POST /v1/admin/tenants HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer test-admin-token-0123456789\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\n{}',
      'UNSUPPORTED_MEDIA_TYPE',
    ],
    [
      'a webhook body that is form-encoded',
      'POST /v1/webhooks/acme/tickets HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 3\r\n\r\na=b',
      'UNSUPPORTED_MEDIA_TYPE',
    ],
    ['an unknown route', 'GET /nope HTTP/1.1\r\nHost: x\r\n\r\n', 'NOT_FOUND'],
  ])('%s', async (_name, request, code) => {
    expectDocumentedError(await send(request), code);
  });

  it('stays healthy afterwards', async () => {
    const response = await send('GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(response).toMatchObject({ status: 200, body: '{"status":"ok"}' });
  });
});
