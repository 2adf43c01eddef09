import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOpenAiEnhancer } from '../../src/consumers/enhancers/openai.js';
import { createEnhanceStage } from '../../src/consumers/stages/enhance.js';
import { StreamdeskError } from '../../src/errors.js';
import { eventDataSchemas, type TicketContext, type TicketEventOf } from '../../src/events.js';
import { startRole, type RunningRole } from '../../src/runtime/roles.js';
import { derivedEventId, uuidv7 } from '../../src/streams/ids.js';
import { createTestEnv, waitFor, type TestEnv } from '../support/env.js';
import {
  completionBody,
  sampleEnhancement,
  startFakeOpenAi,
  type ChatRequest,
  type FakeOpenAi,
  type FakeReply,
} from '../support/fake-openai.js';
import { signedHeaders, ticketBody } from '../support/webhook.js';

const apiKey = 'sk-test-0123456789abcdef';
let fake: FakeOpenAi;
let t: TestEnv;
let running: RunningRole;
const secrets = new Map<string, string>();

/** The subject of the ticket a request is about (other tickets' subjects appear in it as similar tickets). */
function subjectOf(request: ChatRequest): string {
  const user = request.body.messages.find((message) => message.role === 'user')?.content ?? '{}';
  return (JSON.parse(user) as { ticket?: { subject?: string } }).ticket?.subject ?? '';
}
const requestsFor = (subject: string) => fake.requests.filter((request) => subjectOf(request) === subject);

/** Scripted answers per ticket subject: the nth request for a subject gets the nth reply (the last one repeats). */
const scripts = new Map<string, FakeReply[]>();
function replyFor(request: ChatRequest, previous: number): FakeReply {
  const replies = scripts.get(subjectOf(request));
  return replies ? replies[Math.min(previous, replies.length - 1)]! : {};
}

beforeAll(async () => {
  fake = await startFakeOpenAi(replyFor);
  t = await createTestEnv({
    OPENAI_API_KEY: apiKey,
    OPENAI_BASE_URL: fake.url,
    OPENAI_MODEL: 'fake-gpt',
    OPENAI_TIMEOUT_MS: '1000',
    RETRY_BASE_MS: '20',
    RETRY_MAX_MS: '100',
  });
  for (const id of ['acme', 'globex']) secrets.set(id, (await t.services.registry.create({ id })).secret);
  running = await startRole('all', t.services, {
    listen: false,
    runnerOverrides: { blockMs: 100, tenantRefreshMs: 100 },
  });
});

afterAll(async () => {
  await running?.stop();
  await t?.cleanup();
  await fake?.close();
});

async function send(tenant: string, id: string, subject: string, description = 'Since this morning.'): Promise<void> {
  const body = ticketBody({ id, subject, description, priority: 'High' });
  const response = await running.app.inject({
    method: 'POST',
    url: `/v1/webhooks/${tenant}/tickets`,
    payload: body,
    headers: signedHeaders(secrets.get(tenant)!, body),
  });
  expect(response.statusCode).toBe(202);
}

type TicketRow = {
  status: string;
  enhancement: Record<string, unknown> | null;
  failure: Record<string, unknown> | null;
  enhanced_at: Date | null;
};
async function settledTicket(tenant: string, id: string): Promise<TicketRow> {
  return waitFor(
    async () => {
      const { rows } = await t.services.db.query<TicketRow>(
        'SELECT status, enhancement, failure, enhanced_at FROM tickets WHERE tenant_id = $1 AND ticket_id = $2',
        [tenant, id],
      );
      return rows[0] && ['written_back', 'failed'].includes(rows[0].status) ? rows[0] : undefined;
    },
    { message: `ticket ${tenant}/${id} settled` },
  );
}

async function deadLetters(tenant: string): Promise<Record<string, string>[]> {
  const entries = (await t.services.redis.xrange(t.services.keys.dlq(tenant), '-', '+')) as [string, string[]][];
  return entries.map(([, fields]) =>
    Object.fromEntries(fields.flatMap((_, i) => (i % 2 === 0 ? [[fields[i]!, fields[i + 1]!]] : []))),
  );
}

describe('enhance stage with an OpenAI-compatible server', () => {
  it('enhances through Chat Completions with a strict JSON schema and records model, tokens and latency', async () => {
    scripts.set('VPN drops at home', [{ usage: { prompt_tokens: 400, completion_tokens: 60 } }]);
    await send('acme', 'E-1', 'VPN drops at home');
    await send('globex', 'G-SECRET', 'Globex confidential merger server');
    const ticket = await settledTicket('acme', 'E-1');
    expect(ticket.status).toBe('written_back');
    expect(ticket.enhancement).toMatchObject({
      ...sampleEnhancement,
      model: 'fake-gpt',
      tokens: { prompt: 400, completion: 60 },
      latencyMs: expect.any(Number),
    });
    expect(ticket.enhanced_at).toBeInstanceOf(Date);

    const [request, ...more] = requestsFor('VPN drops at home');
    expect(more).toEqual([]);
    expect(request!.authorization).toBe(`Bearer ${apiKey}`);
    expect(request!.body.model).toBe('fake-gpt');
    expect(request!.body.response_format).toMatchObject({
      type: 'json_schema',
      json_schema: {
        name: 'ticket_enhancement',
        strict: true,
        schema: { type: 'object', additionalProperties: false },
      },
    });
    // The prompt holds this tenant's ticket only.
    const prompt = request!.body.messages.map((message) => message.content).join('\n');
    expect(prompt).toContain('VPN drops at home');
    expect(prompt).not.toContain('Globex');
    await settledTicket('globex', 'G-SECRET');
    expect(await t.services.metrics.render()).toMatch(
      /streamdesk_llm_tokens_total\{model="fake-gpt",kind="prompt"\} \d+/,
    );
  });

  it('retries after a 429 and then succeeds', async () => {
    scripts.set('Rate limited ticket', [{ status: 429, headers: { 'retry-after': '0' } }, {}]);
    await send('acme', 'E-2', 'Rate limited ticket');
    expect((await settledTicket('acme', 'E-2')).status).toBe('written_back');
    expect(requestsFor('Rate limited ticket')).toHaveLength(2);
  });

  it('retries a burst of 500s without using up attempts, and writes the ticket back once the server recovers', async () => {
    scripts.set('Server fails for a while', [{ status: 500 }, { status: 500 }, { status: 503 }, { status: 500 }, {}]);
    await send('acme', 'E-3', 'Server fails for a while');
    const ticket = await settledTicket('acme', 'E-3');
    expect(ticket.status).toBe('written_back');
    expect(requestsFor('Server fails for a while')).toHaveLength(5);
    expect((await deadLetters('acme')).filter((letter) => letter.event?.includes('E-3'))).toEqual([]);
  });

  it('retries an answer that does not match the schema, and succeeds when the next one does', async () => {
    scripts.set('Malformed once', [{ content: { summary: 42 } }, {}]);
    await send('acme', 'E-4', 'Malformed once');
    expect((await settledTicket('acme', 'E-4')).status).toBe('written_back');
    expect(requestsFor('Malformed once')).toHaveLength(2);
  });

  it('dead-letters an answer that never matches the schema as LLM_BAD_OUTPUT after three attempts', async () => {
    scripts.set('Always malformed', [
      { content: 'this is not JSON' },
      { content: { ...sampleEnhancement, suggestedPriority: 'whenever' } },
      { content: { ...sampleEnhancement, confidence: 7 } },
    ]);
    await send('acme', 'E-5', 'Always malformed');
    const ticket = await settledTicket('acme', 'E-5');
    expect(ticket.failure).toMatchObject({ stage: 'enhance', code: 'LLM_BAD_OUTPUT', attempts: 3 });
    expect(requestsFor('Always malformed')).toHaveLength(3);
  });

  it('dead-letters a 401 at once, without the API key in the dead letter', async () => {
    scripts.set('Bad key ticket', [
      {
        status: 401,
        body: { error: { message: `Incorrect API key provided: ${apiKey}`, type: 'invalid_request_error' } },
      },
    ]);
    await send('acme', 'E-6', 'Bad key ticket');
    const ticket = await settledTicket('acme', 'E-6');
    expect(ticket.failure).toMatchObject({ stage: 'enhance', code: 'LLM_REJECTED', attempts: 1 });
    expect(requestsFor('Bad key ticket')).toHaveLength(1);
    const letters = (await deadLetters('acme')).filter((letter) => letter.event?.includes('E-6'));
    expect(letters[0]?.message).toContain('401');
    expect(JSON.stringify(letters)).not.toContain(apiKey);
  });
});

describe('OpenAI enhancer errors', () => {
  const request = {
    ticket: { subject: 'Direct call', description: 'x' },
    context: { similarTickets: [], assets: [], unmatchedIps: [], kbArticles: [] },
  };
  const enhancerFor = (timeoutMs = 1_000) =>
    createOpenAiEnhancer({ apiKey, baseUrl: fake.url, model: 'fake-gpt', timeoutMs });
  const failure = async (reply: FakeReply, timeoutMs?: number): Promise<StreamdeskError> => {
    scripts.set('Direct call', [reply]);
    try {
      await enhancerFor(timeoutMs).enhance(request, new AbortController().signal);
    } catch (error) {
      return error as StreamdeskError;
    } finally {
      scripts.delete('Direct call');
    }
    throw new Error('expected the call to fail');
  };

  it('turns a 429 into a retryable LLM_RATE_LIMITED carrying retry-after', async () => {
    const error = await failure({ status: 429, headers: { 'retry-after': '7' } });
    expect(error).toBeInstanceOf(StreamdeskError);
    expect(error).toMatchObject({ code: 'LLM_RATE_LIMITED', retryable: true, retryAfterMs: 7_000 });
  });

  it.each([
    [400, 'LLM_REJECTED', false],
    [403, 'LLM_REJECTED', false],
    [404, 'LLM_REJECTED', false],
    [500, 'LLM_UNAVAILABLE', true],
    [503, 'LLM_UNAVAILABLE', true],
  ])('maps %i to %s (retryable: %s)', async (status, code, retryable) => {
    expect(await failure({ status })).toMatchObject({ code, retryable });
  });

  it('gives up after the configured timeout with a retryable error', async () => {
    expect(await failure({ delayMs: 500 }, 100)).toMatchObject({ code: 'LLM_UNAVAILABLE', retryable: true });
  });

  it('treats a refusal and a truncated answer as bad output', async () => {
    const refusal = completionBody('') as { choices: { message: { refusal: string | null } }[] };
    refusal.choices[0]!.message.refusal = 'I cannot help with that';
    expect(await failure({ body: refusal })).toMatchObject({ code: 'LLM_BAD_OUTPUT', retryable: true });
    const truncated = completionBody('{"summary": "cut') as { choices: { finish_reason: string }[] };
    truncated.choices[0]!.finish_reason = 'length';
    expect(await failure({ body: truncated })).toMatchObject({ code: 'LLM_BAD_OUTPUT', retryable: true });
  });
});

describe('enhance stage handler', () => {
  const context: TicketContext = { similarTickets: [], assets: [], unmatchedIps: [], kbArticles: [] };
  const ctx = { tenant: 'acme', attempt: 1, signal: new AbortController().signal, log: pino({ level: 'silent' }) };
  const contextGathered = (
    correlation: string,
    ticket?: { subject: string; description: string },
  ): TicketEventOf<'ticket.context_gathered'> => ({
    id: derivedEventId(correlation, 'context', '0'),
    type: 'ticket.context_gathered',
    v: 1,
    tenant: 'acme',
    ticket: 'OLD-1',
    ts: Date.now(),
    causation: correlation,
    correlation,
    traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
    data: { context, ...(ticket ? { ticket } : {}) },
  });
  const seen: string[] = [];
  const recordingEnhancer = {
    async enhance(input: { ticket: { subject: string } }) {
      seen.push(input.ticket.subject);
      return { enhancement: sampleEnhancement, model: 'recording', tokens: { prompt: 1, completion: 2 } };
    },
  };

  it('reads the ticket of an event written without it from the archived ticket.received', async () => {
    const stage = createEnhanceStage({ db: t.services.db, enhancer: recordingEnhancer, metrics: t.services.metrics });
    const receivedId = uuidv7();
    await t.services.db.query(
      `INSERT INTO events (tenant_id, stream_id, event_id, type, version, ticket_id, causation_id, correlation_id, traceparent, data, occurred_at)
       VALUES ('acme', '1-1', $1::uuid, 'ticket.received', 1, 'OLD-1', '', $1::text, '', $2, now())`,
      [
        receivedId,
        JSON.stringify({
          action: 'ticket.created',
          ticket: { id: 'OLD-1', subject: 'Archived subject', description: 'Archived description' },
          deliveryId: 'd',
        }),
      ],
    );
    const [followOn] = await stage.handle(contextGathered(receivedId), ctx);
    expect(seen).toContain('Archived subject');
    expect(eventDataSchemas['ticket.enhanced'].parse(followOn!.data)).toMatchObject({
      model: 'recording',
      tokens: { prompt: 1, completion: 2 },
    });
  });

  it('fails retryably while the ticket.received is not archived yet', async () => {
    const stage = createEnhanceStage({ db: t.services.db, enhancer: recordingEnhancer, metrics: t.services.metrics });
    await expect(stage.handle(contextGathered(uuidv7()), ctx)).rejects.toMatchObject({
      code: 'HANDLER_FAILED',
      retryable: true,
    });
  });
});
