import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWritebackStage } from '../../src/consumers/stages/writeback.js';
import { decodeEvent, type TicketEvent, type TicketEventOf } from '../../src/events.js';
import { verifyWebhookSignature } from '../../src/webhook-signature.js';
import { startRole } from '../../src/runtime/roles.js';
import { uuidv7 } from '../../src/streams/ids.js';
import { createTestEnv, waitFor, type TestEnv } from '../support/env.js';
import { appendEvent, readStream } from '../support/events.js';
import { sampleEnhancement } from '../support/fake-openai.js';
import { startFakeHelpdesk, type FakeHelpdesk, type HelpdeskReply } from '../support/fake-helpdesk.js';
import { rejection } from '../support/rejection.js';
import { capturingLogger } from '../support/log.js';

const sdpToken = 'SDP-TOKEN-5F3A2B1C-0D4E';
const hookSecret = 'hook-secret-0123456789abcdef';
let t: TestEnv;
let helpdesk: FakeHelpdesk;
/** Scripted answers per request path; the nth request to a path gets the nth reply (the last one repeats). */
const scripts = new Map<string, HelpdeskReply[]>();
const logLines: string[] = [];
const log = capturingLogger(logLines);

beforeAll(async () => {
  helpdesk = await startFakeHelpdesk((request) => {
    const replies = scripts.get(request.path);
    if (!replies) return undefined;
    const index = helpdesk.requests.filter((earlier) => earlier.path === request.path).length - 1;
    return replies[Math.min(index, replies.length - 1)];
  });
  t = await createTestEnv({ RETRY_BASE_MS: '20', RETRY_MAX_MS: '100' });
  await t.services.registry.create({
    id: 'sdp',
    writeback: { type: 'servicedesk-plus', baseUrl: `${helpdesk.url}/sdp`, authToken: sdpToken },
  });
  await t.services.registry.create({
    id: 'hook',
    writeback: { type: 'webhook', url: `${helpdesk.url}/hooks/notes`, secret: hookSecret },
  });
  await t.services.registry.create({ id: 'quiet' });
  await t.services.registry.create({
    id: 'dead',
    writeback: { type: 'servicedesk-plus', baseUrl: 'http://127.0.0.1:9', authToken: sdpToken },
  });
});

afterAll(async () => {
  await t?.cleanup();
  await helpdesk?.close();
});

function enhanced(tenant: string, ticket: string, enhancement = sampleEnhancement): TicketEventOf<'ticket.enhanced'> {
  const correlation = uuidv7();
  return {
    id: uuidv7(),
    type: 'ticket.enhanced',
    v: 1,
    tenant,
    ticket,
    ts: Date.now(),
    causation: correlation,
    correlation,
    traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
    data: { enhancement, model: 'fake-gpt', tokens: { prompt: 10, completion: 5 }, latencyMs: 12 },
  };
}

const stage = (timeoutMs = 2_000) =>
  createWritebackStage({
    db: t.services.db,
    registry: t.services.registry,
    timeoutMs,
    targetPolicy: { allowPrivate: t.config.writebackAllowPrivate },
  });
const run = (event: TicketEventOf<'ticket.enhanced'>, timeoutMs?: number) =>
  stage(timeoutMs).handle(event, { tenant: event.tenant, attempt: 1, signal: new AbortController().signal, log });
const requestsTo = (path: string) => helpdesk.requests.filter((request) => request.path === path);
const writebackRows = async (ticket: string) =>
  (
    await t.services.db.query(
      'SELECT tenant_id, ticket_id, target, note_id, status FROM writebacks WHERE ticket_id = $1',
      [ticket],
    )
  ).rows;

describe('write-back to ServiceDesk Plus', () => {
  it('POSTs a private note to /api/v3/requests/{id}/notes with the authtoken header and an input_data form', async () => {
    const event = enhanced('sdp', '4711', { ...sampleEnhancement, summary: 'Printer <script>alert(1)</script> & co' });
    const emitted = await run(event);
    const [request, ...more] = requestsTo('/sdp/api/v3/requests/4711/notes');
    expect(more).toEqual([]);
    expect(request).toMatchObject({ method: 'POST' });
    expect(request!.headers.authtoken).toBe(sdpToken);
    expect(request!.headers.accept).toBe('application/vnd.manageengine.sdp.v3+json');
    expect(request!.headers['content-type']).toMatch(/^application\/x-www-form-urlencoded/);
    expect([...new URLSearchParams(request!.rawBody).keys()]).toEqual(['input_data']);
    const { note } = request!.inputData as { note: Record<string, unknown> };
    expect(note).toEqual({
      description: expect.any(String),
      show_to_requester: false,
      mark_first_response: false,
      add_to_linked_requests: false,
    });
    const description = note.description as string;
    expect(description).toContain('Printer &lt;script&gt;alert(1)&lt;/script&gt; &amp; co');
    expect(description).not.toContain('<script>');
    expect(description).toContain('<li>Check the certificate expiry</li>');
    expect(description).toContain('fake-gpt');

    expect(emitted).toEqual([
      {
        type: 'ticket.written_back',
        data: { target: 'servicedesk-plus', noteId: expect.stringMatching(/^\d+$/), status: 201 },
      },
    ]);
    expect(await writebackRows('4711')).toEqual([
      {
        tenant_id: 'sdp',
        ticket_id: '4711',
        target: 'servicedesk-plus',
        note_id: (emitted[0]!.data as { noteId: string }).noteId,
        status: 201,
      },
    ]);
  });

  it('posts nothing on a redelivery of the same ticket.enhanced and re-emits the recorded result', async () => {
    const event = enhanced('sdp', '4712');
    const first = await run(event);
    const second = await run(event);
    expect(second).toEqual(first);
    expect(requestsTo('/sdp/api/v3/requests/4712/notes')).toHaveLength(1);
    expect(await writebackRows('4712')).toHaveLength(1);
  });

  it('shares one call between two deliveries of the same event handled at once', async () => {
    const shared = stage();
    const event = enhanced('sdp', '4722');
    const ctx = { tenant: 'sdp', attempt: 1, signal: new AbortController().signal, log };
    const [first, second] = await Promise.all([shared.handle(event, ctx), shared.handle(event, ctx)]);
    expect(second).toEqual(first);
    expect(requestsTo('/sdp/api/v3/requests/4722/notes')).toHaveLength(1);
  });

  it("reads the note id from a numeric id and from the cloud edition's request_note", async () => {
    scripts.set('/sdp/api/v3/requests/4713/notes', [
      {
        status: 200,
        body: { response_status: { status_code: 2000, status: 'success' }, note: { id: 234759602834500 } },
      },
    ]);
    scripts.set('/sdp/api/v3/requests/4714/notes', [{ status: 200, body: { request_note: { id: '99' } } }]);
    expect((await run(enhanced('sdp', '4713')))[0]!.data).toEqual({
      target: 'servicedesk-plus',
      noteId: '234759602834500',
      status: 200,
    });
    expect((await run(enhanced('sdp', '4714')))[0]!.data).toEqual({
      target: 'servicedesk-plus',
      noteId: '99',
      status: 200,
    });
  });

  it('treats a 4xx as permanent (WRITEBACK_REJECTED) with no token in the message, and records nothing', async () => {
    scripts.set('/sdp/api/v3/requests/4715/notes', [
      {
        status: 401,
        body: {
          response_status: {
            status_code: 4000,
            status: 'failed',
            messages: [{ message: `Invalid authtoken ${sdpToken}` }],
          },
        },
      },
    ]);
    const error = await rejection(run(enhanced('sdp', '4715')));
    expect(error).toMatchObject({ code: 'WRITEBACK_REJECTED', retryable: false });
    expect(error.message).toContain('401');
    expect(error.message).not.toContain(sdpToken);
    expect(await writebackRows('4715')).toEqual([]);
  });

  it('treats 5xx, 429, timeouts and refused connections as retryable (WRITEBACK_FAILED)', async () => {
    scripts.set('/sdp/api/v3/requests/4716/notes', [{ status: 503 }]);
    scripts.set('/sdp/api/v3/requests/4717/notes', [{ status: 429, headers: { 'retry-after': '3' } }]);
    scripts.set('/sdp/api/v3/requests/4718/notes', [{ delayMs: 500 }]);
    expect(await rejection(run(enhanced('sdp', '4716')))).toMatchObject({ code: 'WRITEBACK_FAILED', retryable: true });
    expect(await rejection(run(enhanced('sdp', '4717')))).toMatchObject({
      code: 'WRITEBACK_FAILED',
      retryable: true,
      retryAfterMs: 3_000,
    });
    const timeout = await rejection(run(enhanced('sdp', '4718'), 100));
    expect(timeout).toMatchObject({ code: 'WRITEBACK_FAILED', retryable: true });
    expect(timeout.message).toContain('no answer within 100 ms');
    const refused = await rejection(run(enhanced('dead', '4719')));
    expect(refused).toMatchObject({ code: 'WRITEBACK_FAILED', retryable: true });
    expect(refused.message).not.toContain(sdpToken);
    expect(await writebackRows('4716')).toEqual([]);
  });

  it('dead-letters a 2xx answer without a note id rather than risk a second note', async () => {
    scripts.set('/sdp/api/v3/requests/4720/notes', [{ status: 200, body: '<html>login</html>' }]);
    expect(await rejection(run(enhanced('sdp', '4720')))).toMatchObject({
      code: 'WRITEBACK_REJECTED',
      retryable: false,
    });
  });

  it('refuses to follow a redirect (it would resend the token elsewhere)', async () => {
    scripts.set('/sdp/api/v3/requests/4721/notes', [
      { status: 302, headers: { location: 'http://example.invalid/steal' } },
    ]);
    expect(await rejection(run(enhanced('sdp', '4721')))).toMatchObject({
      code: 'WRITEBACK_REJECTED',
      retryable: false,
    });
  });
});

describe('credentials in logs', () => {
  it('never puts the helpdesk token or the webhook secret in a log line or an error, whatever the target answers', async () => {
    const from = logLines.length;
    scripts.set('/sdp/api/v3/requests/4801/notes', [{ status: 201, body: { request_note: { id: 'N-4801' } } }]);
    scripts.set('/sdp/api/v3/requests/4802/notes', [{ status: 401, body: `Invalid authtoken ${sdpToken}` }]);
    scripts.set('/sdp/api/v3/requests/4803/notes', [{ status: 503, body: `token ${sdpToken} overloaded` }]);
    const delivered = enhanced('sdp', '4801');
    await run(delivered);
    await run(delivered); // a redelivery: logged as already written back
    const errors = [
      await rejection(run(enhanced('sdp', '4802'))),
      await rejection(run(enhanced('sdp', '4803'))),
      await rejection(run(enhanced('dead', '4804'))),
    ];
    const logged = logLines.slice(from).join('');
    expect(logged).toContain('already written back');
    for (const text of [logged, ...errors.map((error) => error.message)]) {
      expect(text).not.toContain(sdpToken);
      expect(text).not.toContain(hookSecret);
    }
  });
});

describe('write-back to a webhook', () => {
  it('POSTs the enhancement as signed JSON that verifies like our own webhooks', async () => {
    scripts.set('/hooks/notes', [{ status: 200, body: { noteId: 'N-1' } }]);
    const event = enhanced('hook', 'W-1');
    const emitted = await run(event);
    const request = requestsTo('/hooks/notes').find((sent) => sent.headers['x-streamdesk-delivery'] === event.id)!;
    expect(request.headers['content-type']).toBe('application/json');
    expect(request.headers['x-streamdesk-delivery']).toBe(event.id);
    expect(() =>
      verifyWebhookSignature({
        secret: hookSecret,
        timestamp: request.headers['x-streamdesk-timestamp'] as string,
        signature: request.headers['x-streamdesk-signature'] as string,
        rawBody: Buffer.from(request.rawBody),
        toleranceSeconds: 300,
      }),
    ).not.toThrow();
    expect(JSON.parse(request.rawBody)).toMatchObject({
      event: 'ticket.enhanced',
      tenant: 'hook',
      ticketId: 'W-1',
      enhancementId: event.id,
      enhancement: sampleEnhancement,
      model: 'fake-gpt',
      note: expect.stringContaining('Summary:'),
    });
    expect(request.rawBody).not.toContain(hookSecret);
    expect(emitted[0]!.data).toEqual({ target: 'webhook', noteId: 'N-1', status: 200 });
  });
});

describe('write-back target none', () => {
  it('calls nothing and still emits ticket.written_back with target "none"', async () => {
    const before = helpdesk.requests.length;
    const emitted = await run(enhanced('quiet', 'Q-1'));
    expect(emitted).toEqual([{ type: 'ticket.written_back', data: { target: 'none', noteId: null, status: null } }]);
    expect(helpdesk.requests.length).toBe(before);
    expect(await writebackRows('Q-1')).toEqual([
      { tenant_id: 'quiet', ticket_id: 'Q-1', target: 'none', note_id: null, status: null },
    ]);
  });

  it('dead-letters an event of a tenant that no longer exists', async () => {
    expect(await rejection(run(enhanced('gone', 'X-1')))).toMatchObject({ code: 'UNKNOWN_TENANT', retryable: false });
  });
});

describe('write-back under the runner', () => {
  it('posts one note when the same ticket.enhanced is delivered twice, and emits one ticket.written_back', async () => {
    const running = await startRole('worker', t.services, {
      listen: false,
      runnerOverrides: { blockMs: 100, tenantRefreshMs: 100 },
    });
    try {
      const event = enhanced('sdp', '4800');
      // A replay or a re-drive puts the same event (same id) on the stream again.
      await appendEvent(t.services, event as TicketEvent);
      await appendEvent(t.services, event as TicketEvent);
      const writtenBack = async () =>
        (await readStream(t.services, 'sdp'))
          .map(([, fields]) => fields)
          .filter((fields) => fields.type === 'ticket.written_back' && fields.ticket === '4800');
      await waitFor(
        async () => {
          const groups = (await t.services.redis.xinfo('GROUPS', t.services.keys.events('sdp'))) as unknown[][];
          const group = groups
            .map((fields) =>
              Object.fromEntries(fields.flatMap((_, i) => (i % 2 === 0 ? [[fields[i], fields[i + 1]]] : []))),
            )
            .find((info) => info.name === 'writeback');
          return group?.pending === 0 && group.lag === 0 && (await writtenBack()).length > 0;
        },
        { message: 'both deliveries settled' },
      );
      expect(requestsTo('/sdp/api/v3/requests/4800/notes')).toHaveLength(1);
      const events = await writtenBack();
      expect(events).toHaveLength(1);
      expect(decodeEvent(events[0]!)).toMatchObject({
        type: 'ticket.written_back',
        causation: event.id,
        data: { target: 'servicedesk-plus', status: 201 },
      });
    } finally {
      await running.stop();
    }
  });
});
