import { createHmac } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareStreamIds } from '../../src/streams/ids.js';
import { decodeEvent, type TicketEventOf } from '../../src/events.js';
import { ingestApp } from '../support/app.js';
import { createTestEnv, type TestEnv } from '../support/env.js';
import { escapedJsonBody, formBody, rawJsonBody, type SdpValues } from '../support/servicedesk-plus.js';

let t: TestEnv;
let app: FastifyInstance;
const secrets = new Map<string, string>();

beforeAll(async () => {
  t = await createTestEnv();
  const { services } = t;
  app = await ingestApp(t.config, services);
  secrets.set('sdp-token', (await services.registry.create({ id: 'sdp-token', inboundAuth: 'token' })).secret);
  secrets.set('sdp-basic', (await services.registry.create({ id: 'sdp-basic', inboundAuth: 'basic' })).secret);
  secrets.set('sdp-hmac', (await services.registry.create({ id: 'sdp-hmac' })).secret);
});

afterAll(async () => {
  await app?.close();
  await t?.cleanup();
});

const form = 'application/x-www-form-urlencoded';
const json = 'application/json';
const tokenHeaders = () => ({ 'x-streamdesk-token': secrets.get('sdp-token') ?? '' });
const basicHeaders = () => ({
  authorization: `Basic ${Buffer.from(`sdp-basic:${secrets.get('sdp-basic') ?? ''}`).toString('base64')}`,
});

function post(tenant: string, body: string, contentType: string, headers: Record<string, string>, query = '') {
  return app.inject({
    method: 'POST',
    url: `/v1/webhooks/${tenant}/servicedesk-plus${query}`,
    payload: body,
    headers: { 'content-type': contentType, ...headers },
  });
}

// Both lanes: a high or urgent ticket is appended to the priority lane.
const streamLength = async (tenant: string) =>
  (await t.services.redis.xlen(t.services.keys.events(tenant))) +
  (await t.services.redis.xlen(t.services.keys.priorityEvents(tenant)));

async function lastReceived(tenant: string): Promise<TicketEventOf<'ticket.received'>> {
  const newest = async (key: string) =>
    ((await t.services.redis.xrevrange(key, '+', '-', 'COUNT', 1)) as [string, string[]][])[0];
  const candidates = (await Promise.all(t.services.keys.lanes(tenant).map(newest))).filter(
    (entry) => entry !== undefined,
  );
  // Both lanes share one id sequence, so the greatest id is the newest entry.
  const [, fields] = candidates.sort(([a], [b]) => compareStreamIds(b, a))[0] ?? ['', []];
  const event = decodeEvent(fields);
  if (event.type !== 'ticket.received') throw new Error(`expected ticket.received, got ${event.type}`);
  return event;
}

// What a technician types: quotes, apostrophes, backslashes, newlines, HTML, emoji.
const awkward: SdpValues = {
  id: '4711',
  subject: 'Printer "HP 4050" won\'t print — 50% done 🖨️',
  description:
    '<div>User says: "it\'s broken, again"<br>Path C:\\temp\\new, <b>bold</b> &amp; emoji 🔥😀</div>\n<div>Host 10.0.0.5 &lt;core&gt;</div>',
  priority: 'High',
  category: 'Hardware',
  requester: 'Zoë O\'Brien "Bob"',
  'requester.email_id': 'zoe@example.com',
  site: 'Zürich HQ',
  created_time: '1764700000000',
  last_updated_time: '1764700000000',
};
const awkwardTicket = {
  id: '4711',
  subject: 'Printer "HP 4050" won\'t print — 50% done 🖨️',
  description: 'User says: "it\'s broken, again"\nPath C:\\temp\\new, bold & emoji 🔥😀\n\nHost 10.0.0.5 <core>',
  priority: 'High',
  category: 'Hardware',
  site: 'Zürich HQ',
  requester: { name: 'Zoë O\'Brien "Bob"', email: 'zoe@example.com' },
  createdAt: new Date(1764700000000).toISOString(),
};

describe('POST /v1/webhooks/:tenant/servicedesk-plus takes the documented templates as ServiceDesk Plus fills them', () => {
  it.each([
    ['the form template, token header', 'sdp-token', () => formBody(awkward), form, tokenHeaders],
    [
      'the JSON template with escaped values, HTTP Basic',
      'sdp-basic',
      () => escapedJsonBody({ ...awkward, id: '4712' }),
      json,
      basicHeaders,
    ],
    [
      'the JSON template with values pasted unescaped, token header',
      'sdp-token',
      () => rawJsonBody({ ...awkward, id: '4713' }),
      json,
      tokenHeaders,
    ],
    [
      'the unescaped JSON template sent as text/plain',
      'sdp-token',
      () => rawJsonBody({ ...awkward, id: '4714' }),
      'text/plain',
      tokenHeaders,
    ],
  ])('%s', async (_name, tenant, body, contentType, headers) => {
    const payload = body();
    const before = await streamLength(tenant);
    const response = await post(tenant, payload, contentType, headers());
    expect(response.statusCode, response.body).toBe(202);
    expect(response.json().duplicate).toBe(false);
    expect(await streamLength(tenant)).toBe(before + 1);
    const event = await lastReceived(tenant);
    const id = /"id": "(\d+)"/.exec(payload)?.[1] ?? '4711';
    expect(event.data.action).toBe('ticket.created');
    expect(event.data.ticket).toEqual({ ...awkwardTicket, id });
    expect(event.ticket).toBe(id);
  });

  it('takes the REST API shape (objects, numeric id) from the signing custom function, with a base64 signature', async () => {
    const body = JSON.stringify({
      event: 'created',
      request: {
        id: 90210,
        subject: 'VPN "split tunnel" fails',
        description: '<p>Since Monday</p><p>Error 809</p>',
        priority: { name: 'Urgent', id: '4' },
        requester: { name: 'Ann', email_id: 'ann@example.com', id: '7' },
        site: { name: 'Berlin', id: '2' },
        category: null,
        created_time: { value: '1764700000000', display_value: 'Dec 2, 2025 06:26 PM' },
        last_updated_time: { value: '1764700001000', display_value: 'Dec 2, 2025 06:26 PM' },
      },
    });
    const timestamp = String(Math.floor(Date.now() / 1_000));
    const signature = `v1=${createHmac('sha256', secrets.get('sdp-hmac') ?? '')
      .update(`${timestamp}.${body}`)
      .digest('base64')}`;
    const response = await post('sdp-hmac', body, json, {
      'x-streamdesk-timestamp': timestamp,
      'x-streamdesk-signature': signature,
    });
    expect(response.statusCode, response.body).toBe(202);
    const event = await lastReceived('sdp-hmac');
    expect(event.data.ticket).toEqual({
      id: '90210',
      subject: 'VPN "split tunnel" fails',
      description: 'Since Monday\nError 809',
      priority: 'Urgent',
      site: 'Berlin',
      requester: { name: 'Ann', email: 'ann@example.com' },
      createdAt: new Date(1764700000000).toISOString(),
    });
    const replay = await post('sdp-hmac', body, json, {
      'x-streamdesk-timestamp': timestamp,
      'x-streamdesk-signature': signature,
      'x-streamdesk-delivery': 'another-id',
    });
    expect(replay.json()).toEqual({ eventId: response.json().eventId, duplicate: true });
  });

  it.each([
    ['form', () => formBody({ ...big, id: '5001' }), form],
    ['unescaped JSON', () => rawJsonBody({ ...big, id: '5002' }), json],
    ['escaped JSON', () => escapedJsonBody({ ...big, id: '5003' }), json],
  ])('takes a 100 KB description (%s), keeping the first 100,000 characters', async (_name, body, contentType) => {
    const response = await post('sdp-token', body(), contentType, tokenHeaders());
    expect(response.statusCode, response.body.slice(0, 300)).toBe(202);
    const { description } = (await lastReceived('sdp-token')).data.ticket;
    expect(description).toHaveLength(100_000);
    expect(description.startsWith('Line 0: "quoted" \'single\' 😀')).toBe(true);
    expect(description.endsWith('\n[truncated]')).toBe(true);
  });

  it('keeps text that looks like the template itself inside an unescaped description', async () => {
    const description =
      'Pasted config: {"id": "999", "subject": "fake"}\n", "site": "Nowhere", "event": "updated"} and a trailing quote"';
    const response = await post(
      'sdp-token',
      rawJsonBody({ id: '4800', subject: 'Looks like JSON', description, site: 'Real site' }),
      json,
      tokenHeaders(),
    );
    expect(response.statusCode, response.body).toBe(202);
    const event = await lastReceived('sdp-token');
    expect(event.data.action).toBe('ticket.created');
    expect(event.data.ticket).toMatchObject({ id: '4800', subject: 'Looks like JSON', description, site: 'Real site' });
  });

  it('treats placeholders left unsubstituted (empty fields) as absent', async () => {
    const response = await post(
      'sdp-token',
      formBody({ id: '6001', subject: 'No site, no requester', description: 'plain text' }),
      form,
      tokenHeaders(),
    );
    expect(response.statusCode, response.body).toBe(202);
    expect((await lastReceived('sdp-token')).data.ticket).toEqual({
      id: '6001',
      subject: 'No site, no requester',
      description: 'plain text',
    });
  });

  it('accepts the same ticket event once, whether it comes as a form or as JSON, and the next update again', async () => {
    const values: SdpValues = {
      id: '7001',
      subject: 'Updated',
      description: 'now with more detail',
      last_updated_time: '1764700100000',
    };
    const first = await post(
      'sdp-token',
      formBody(values),
      form,
      { ...tokenHeaders(), 'x-streamdesk-delivery': 'sdp-a' },
      '?event=updated',
    );
    expect(first.statusCode, first.body).toBe(202);
    expect((await lastReceived('sdp-token')).data.action).toBe('ticket.updated');
    const length = await streamLength('sdp-token');
    const again = await post('sdp-token', escapedJsonBody(values, 'updated'), json, {
      ...tokenHeaders(),
      'x-streamdesk-delivery': 'sdp-b',
    });
    expect(again.json()).toEqual({ eventId: first.json().eventId, duplicate: true });
    expect(await streamLength('sdp-token')).toBe(length);
    const next = await post(
      'sdp-token',
      formBody({ ...values, last_updated_time: '1764700200000' }),
      form,
      tokenHeaders(),
      '?event=updated',
    );
    expect(next.json().duplicate).toBe(false);
  });

  it.each([
    ['a missing subject', () => formBody({ id: '8001', description: 'x' }), form, 'subject'],
    ['a missing id', () => formBody({ subject: 'No id', description: 'x' }), form, 'id'],
    ['an unknown event', () => formBody({ id: '8002', subject: 'x', description: 'x' }, 'deleted'), form, 'event'],
  ])('refuses %s with 400 naming the field, appending nothing', async (_name, body, contentType, path) => {
    const before = await streamLength('sdp-token');
    const response = await post('sdp-token', body(), contentType, tokenHeaders());
    expect(response.statusCode).toBe(400);
    expect(response.json().error.code).toBe('BAD_REQUEST');
    expect(response.json().error.details.map((d: { path: string }) => d.path)).toContain(path);
    expect(await streamLength('sdp-token')).toBe(before);
  });

  it('refuses a body that is neither JSON nor the template with 400, and multipart with 415', async () => {
    expect((await post('sdp-token', '{"id": 1, subject', json, tokenHeaders())).json().error.code).toBe('INVALID_JSON');
    const multipart = await post(
      'sdp-token',
      '--b\r\nContent-Disposition: form-data; name="id"\r\n\r\n1\r\n--b--',
      'multipart/form-data; boundary=b',
      tokenHeaders(),
    );
    expect(multipart.statusCode).toBe(415);
    expect(multipart.json().error.code).toBe('UNSUPPORTED_MEDIA_TYPE');
  });

  it('refuses text Postgres cannot store (NUL, a lone surrogate) with 400 naming the field, and appends nothing', async () => {
    const before = await streamLength('sdp-token');
    // As a sender writes them in JSON: escapes, since a lone surrogate cannot travel as UTF-8.
    for (const subject of ['Printer\\u0000down', 'Printer \\ud800 down']) {
      const response = await post(
        'sdp-token',
        `{"id": "77", "subject": "${subject}", "description": "x"}`,
        json,
        tokenHeaders(),
      );
      expect(response.statusCode).toBe(400);
      expect(response.json().error.code).toBe('BAD_REQUEST');
      expect(response.json().error.details.map((d: { path: string }) => d.path)).toContain('body.subject');
    }
    const formResponse = await post(
      'sdp-token',
      `id=78&subject=${encodeURIComponent('Printer\u0000down')}&description=x`,
      form,
      tokenHeaders(),
    );
    expect(formResponse.statusCode).toBe(400);
    expect(await streamLength('sdp-token')).toBe(before);
  });

  it('answers an unknown tenant exactly like a wrong token', async () => {
    const body = formBody(awkward);
    const unknown = await post('no-such-desk', body, form, tokenHeaders());
    const wrong = await post('sdp-token', body, form, { 'x-streamdesk-token': 'whsec_not-it' });
    expect(unknown.statusCode).toBe(401);
    expect(unknown.body).toBe(wrong.body);
    expect(wrong.json().error.code).toBe('INVALID_CREDENTIALS');
  });
});

const bigDescription = Array.from({ length: 2_000 }, (_, i) => `Line ${i}: "quoted" 'single' 😀 <b>x</b> & more text\n`)
  .join('')
  .slice(0, 100 * 1024);
const big: SdpValues = {
  subject: 'Huge',
  description: bigDescription.replace(/<b>x<\/b> & /g, 'plain and ').padEnd(100 * 1024, 'z'),
};
