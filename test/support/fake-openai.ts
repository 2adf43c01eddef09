import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Enhancement } from '../../src/events.js';
import { listenOnLoopback, readBody } from './http.js';

/** The Chat Completions request as the fake received it. */
export type ChatRequest = {
  path: string;
  authorization: string | undefined;
  body: {
    model: string;
    messages: { role: string; content: string }[];
    response_format?: {
      type: string;
      json_schema?: { name: string; strict?: boolean; schema?: Record<string, unknown> };
    };
  };
};

export type FakeReply = {
  status?: number;
  headers?: Record<string, string>;
  /** A JSON body sent as is; defaults to a completion whose content is `content`. */
  body?: unknown;
  /** The assistant message content: a string as is, anything else JSON-encoded. */
  content?: unknown;
  usage?: { prompt_tokens: number; completion_tokens: number };
  /** Wait this long before answering (for timeouts). */
  delayMs?: number;
};

export const sampleEnhancement: Enhancement = {
  summary: 'The user cannot connect to the VPN since this morning.',
  likelyCause: 'Expired VPN certificate on the client.',
  suggestedCategory: 'VPN',
  suggestedPriority: 'high',
  nextSteps: ['Check the certificate expiry', 'Reissue the certificate'],
  confidence: 0.82,
};

export function completionBody(
  content: unknown,
  model = 'fake-gpt',
  usage = { prompt_tokens: 321, completion_tokens: 54 },
): unknown {
  return {
    id: 'chatcmpl-fake',
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1_000),
    model,
    choices: [
      {
        index: 0,
        finish_reason: 'stop',
        message: {
          role: 'assistant',
          content: typeof content === 'string' ? content : JSON.stringify(content),
          refusal: null,
        },
      },
    ],
    usage: { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens },
  };
}

export type FakeOpenAi = {
  /** The base URL to configure as OPENAI_BASE_URL. */
  url: string;
  requests: ChatRequest[];
  /** With `limits`: what each window saw, by window number (time / windowMs). */
  windows: Map<number, WindowStats>;
  close(): Promise<void>;
};

/**
 * A provider's limits, enforced per fixed window of `windowMs` as providers do per minute: a request
 * over `requests`, or arriving once the window's answers used `tokens`, is answered 429 with
 * Retry-After (seconds, rounded up) and retry-after-ms until the window ends.
 */
export type FakeLimits = { windowMs: number; requests: number; tokens: number };

/** Requests received in a window (answered or not), those answered 429, and the tokens answered. */
export type WindowStats = { received: number; rejected: number; tokens: number };

/** Tokens as the fake counts them: about four characters each, as the OpenAI tokenizers average on English. */
export const fakeTokens = (text: string) => Math.ceil(text.length / 4);

/**
 * A local OpenAI-compatible server for POST /v1/chat/completions. `reply` decides each answer from
 * the request and how many earlier requests carried the same user message (0 on the first).
 */
export async function startFakeOpenAi(
  reply: (request: ChatRequest, previous: number) => FakeReply = () => ({}),
  options: { limits?: FakeLimits } = {},
): Promise<FakeOpenAi> {
  const requests: ChatRequest[] = [];
  const windows = new Map<number, WindowStats>();
  /** Counts the request in its window: a 429 when it is over the limits, else the usage it is answered with. */
  const limited = (request: ChatRequest): FakeReply | undefined => {
    const limits = options.limits;
    if (!limits) return undefined;
    const now = Date.now();
    const window = Math.floor(now / limits.windowMs);
    const stats = windows.get(window) ?? { received: 0, rejected: 0, tokens: 0 };
    windows.set(window, stats);
    stats.received += 1;
    if (stats.received - stats.rejected <= limits.requests && stats.tokens < limits.tokens) {
      const usage = {
        prompt_tokens: fakeTokens(request.body.messages.map((message) => message.content).join('')),
        completion_tokens: fakeTokens(JSON.stringify(sampleEnhancement)),
      };
      stats.tokens += usage.prompt_tokens + usage.completion_tokens;
      return { usage };
    }
    stats.rejected += 1;
    const waitMs = (window + 1) * limits.windowMs - now;
    return {
      status: 429,
      headers: { 'retry-after': String(Math.ceil(waitMs / 1_000)), 'retry-after-ms': String(waitMs) },
      body: { error: { message: 'Rate limit reached', type: 'requests', code: 'rate_limit_exceeded' } },
    };
  };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    void (async () => {
      const rawBody = (await readBody(req)).toString('utf8');
      if (req.method !== 'POST' || req.url !== '/v1/chat/completions') {
        res
          .writeHead(404, { 'content-type': 'application/json' })
          .end(JSON.stringify({ error: { message: 'not found' } }));
        return;
      }
      const request: ChatRequest = {
        path: req.url,
        authorization: req.headers.authorization,
        body: JSON.parse(rawBody),
      };
      const userMessage = request.body.messages.find((message) => message.role === 'user')?.content;
      const previous = requests.filter(
        (earlier) => earlier.body.messages.find((message) => message.role === 'user')?.content === userMessage,
      ).length;
      requests.push(request);
      const limit = limited(request);
      const answer = limit?.status === 429 ? limit : { ...limit, ...reply(request, previous) };
      if (answer.delayMs) await new Promise((resolve) => setTimeout(resolve, answer.delayMs));
      const status = answer.status ?? 200;
      const body =
        answer.body ??
        (status === 200
          ? completionBody(answer.content ?? sampleEnhancement, request.body.model, answer.usage)
          : { error: { message: `fake error ${status}`, type: 'fake' } });
      if (!res.destroyed)
        res.writeHead(status, { 'content-type': 'application/json', ...answer.headers }).end(JSON.stringify(body));
    })();
  });
  const { port, close } = await listenOnLoopback(server);
  return { url: `http://127.0.0.1:${port}/v1`, requests, windows, close };
}
