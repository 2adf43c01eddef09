import { SpanKind } from '@opentelemetry/api';
import OpenAI, { APIConnectionError, APIError, APIUserAbortError } from 'openai';
import { z } from 'zod';
import type { Config } from '../../config/config.js';
import { StreamdeskError } from '../../errors.js';
import { enhancementSchema } from '../../events.js';
import type { CallOutcome, GateLease, ProviderGate } from '../../llm/gate.js';
import { Attr } from '../../telemetry/attributes.js';
import { genAiChatAttributes, genAiChatSpanName, withSpan } from '../../telemetry/tracing.js';
import { retryAfterMs as retryAfterMsOf } from '../retry-after.js';
import type { Enhancer, EnhancementResult } from './enhancer.js';
import { systemPromptFor, userPrompt } from './prompt.js';

/**
 * The JSON schema sent as the structured-output format, derived from enhancementSchema. Strict mode
 * accepts only a subset of JSON Schema: string length bounds are not in it (a server would refuse
 * the schema), so they are left out here and enforced when the answer is validated with zod.
 */
export const enhancementJsonSchema: Record<string, unknown> = withoutKeywords(
  z.toJSONSchema(enhancementSchema, { target: 'draft-7' }),
  ['$schema', 'minLength', 'maxLength'],
);

function withoutKeywords(schema: unknown, keywords: readonly string[]): Record<string, unknown> {
  const strip = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(strip);
    if (typeof node !== 'object' || node === null) return node;
    return Object.fromEntries(
      Object.entries(node)
        .filter(([key]) => !keywords.includes(key))
        .map(([key, value]) => [key, strip(value)]),
    );
  };
  return strip(schema) as Record<string, unknown>;
}

/** The parts of the Chat Completions answer this code reads; validated, like every external input. */
const completionSchema = z.object({
  model: z.string().optional(),
  choices: z
    .array(
      z.object({
        finish_reason: z.string().nullable().optional(),
        message: z.object({ content: z.string().nullable().optional(), refusal: z.string().nullable().optional() }),
      }),
    )
    .min(1),
  usage: z
    .object({ prompt_tokens: z.number().int().nonnegative(), completion_tokens: z.number().int().nonnegative() })
    .nullable()
    .optional(),
});

/** What a call is charged against the token budget before its usage is known: about 4 characters a token, plus the answer. */
export const completionTokensEstimate = 600;
const estimateTokens = (...messages: string[]) =>
  Math.ceil(messages.reduce((sum, message) => sum + message.length, 0) / 4) + completionTokensEstimate;

/** What the gate learns from a failed call: a 429 pauses the provider, an outage counts towards its breaker. */
function outcomeOf(error: StreamdeskError, signal: AbortSignal): CallOutcome {
  if (signal.aborted) return 'abandoned';
  if (error.code === 'LLM_RATE_LIMITED') return 'rate_limited';
  if (error.code === 'LLM_UNAVAILABLE') return 'failure';
  return 'ok';
}

/** The Chat Completions request: the prompts, and the enhancement schema as a strict structured-output format. */
function chatRequest(
  model: string,
  systemPrompt: string,
  user: string,
): OpenAI.Chat.Completions.ChatCompletionCreateParamsNonStreaming {
  return {
    model,
    messages: [
      { role: 'system', content: systemPrompt },
      { role: 'user', content: user },
    ],
    response_format: {
      type: 'json_schema',
      json_schema: { name: 'ticket_enhancement', strict: true, schema: enhancementJsonSchema },
    },
  };
}

type Caller = { client: OpenAI; gate?: ProviderGate | undefined; redact: (message: string) => string };

/** Makes the call and gives the gate's lease back with what it learned: the outcome and the tokens used. */
async function complete(
  { client, gate, redact }: Caller,
  body: OpenAI.Chat.Completions.ChatCompletionCreateParamsNonStreaming,
  lease: GateLease | undefined,
  signal: AbortSignal,
): Promise<unknown> {
  let raw: unknown;
  try {
    raw = await client.chat.completions.create(body, { signal });
  } catch (error) {
    const failure = llmError(error, redact);
    // A refused call used no tokens; one that timed out may have: keep its estimate.
    if (lease && gate)
      await gate.release(
        lease,
        outcomeOf(failure, signal),
        failure.code === 'LLM_UNAVAILABLE' ? lease.estimatedTokens : 0,
        failure.retryAfterMs ?? -1,
      );
    throw failure;
  }
  if (lease && gate) await gate.release(lease, 'ok', usedTokens(raw) ?? lease.estimatedTokens);
  return raw;
}

/**
 * Enhances through the Chat Completions API of OpenAI or any compatible server, with a strict
 * JSON-schema answer. With a gate, every call waits for its turn under the provider's shared limits.
 */
export function createOpenAiEnhancer(
  options: Config['openai'] & { apiKey: string; gate?: ProviderGate; language?: string | undefined },
): Enhancer {
  const client = new OpenAI({
    apiKey: options.apiKey,
    ...(options.baseUrl ? { baseURL: options.baseUrl } : {}),
    timeout: options.timeoutMs,
    // The runner retries with backoff and dead-letters; SDK retries inside one attempt would hide failures from it.
    maxRetries: 0,
  });
  const caller: Caller = {
    client,
    gate: options.gate,
    redact: (message) => message.split(options.apiKey).join('[redacted]'),
  };
  const systemPrompt = systemPromptFor(options.language);
  const spanAttributes = {
    ...genAiChatAttributes(options.model),
    [Attr.serverAddress]: new URL(client.baseURL).hostname,
  };

  return {
    async enhance(request, signal) {
      const user = userPrompt(request);
      // The wait for the gate is not the call: it stays out of the call's span and latency.
      const queued = performance.now();
      const lease = await options.gate?.acquire(estimateTokens(systemPrompt, user), signal);
      const queuedMs = Math.round(performance.now() - queued);
      return withSpan(
        genAiChatSpanName(options.model),
        spanAttributes,
        async (span): Promise<EnhancementResult> => {
          const raw = await complete(caller, chatRequest(options.model, systemPrompt, user), lease, signal);
          const result = parseCompletion(raw, options.model);
          span.setAttributes({
            [Attr.genAiResponseModel]: result.model,
            [Attr.genAiUsageInputTokens]: result.tokens.prompt,
            [Attr.genAiUsageOutputTokens]: result.tokens.completion,
          });
          return { ...result, queuedMs };
        },
        { kind: SpanKind.CLIENT },
      );
    },
  };
}

function usedTokens(raw: unknown): number | undefined {
  const usage = completionSchema.shape.usage.safeParse((raw as { usage?: unknown } | null)?.usage);
  return usage.success && usage.data ? usage.data.prompt_tokens + usage.data.completion_tokens : undefined;
}

function parseCompletion(raw: unknown, requestedModel: string): EnhancementResult {
  const completion = completionSchema.safeParse(raw);
  if (!completion.success) throw new StreamdeskError('LLM_BAD_OUTPUT', 'The LLM answer is not a chat completion');
  const choice = completion.data.choices[0]!;
  if (choice.message.refusal)
    throw new StreamdeskError('LLM_BAD_OUTPUT', `The LLM refused: ${choice.message.refusal.slice(0, 200)}`);
  if (choice.finish_reason === 'length')
    throw new StreamdeskError('LLM_BAD_OUTPUT', 'The LLM answer was cut off at the token limit');
  let content: unknown;
  try {
    content = JSON.parse(choice.message.content ?? '');
  } catch {
    throw new StreamdeskError('LLM_BAD_OUTPUT', 'The LLM answer is not JSON');
  }
  const enhancement = enhancementSchema.safeParse(content);
  if (!enhancement.success) {
    throw new StreamdeskError(
      'LLM_BAD_OUTPUT',
      `The LLM answer does not match the enhancement schema: ${z.prettifyError(enhancement.error).replace(/\n/g, '; ').slice(0, 500)}`,
    );
  }
  const usage = completion.data.usage;
  return {
    enhancement: enhancement.data,
    model: completion.data.model ?? requestedModel,
    tokens: { prompt: usage?.prompt_tokens ?? 0, completion: usage?.completion_tokens ?? 0 },
  };
}

/** Maps what the SDK threw to a coded error: rate limits, outages and timeouts are retried, refusals of the request are not. */
export function llmError(error: unknown, redact: (message: string) => string = (message) => message): StreamdeskError {
  if (error instanceof StreamdeskError) return error;
  if (error instanceof APIUserAbortError)
    return new StreamdeskError('LLM_UNAVAILABLE', 'The LLM call was abandoned at shutdown', undefined, {
      cause: error,
    });
  // Includes APIConnectionTimeoutError.
  if (error instanceof APIConnectionError)
    return new StreamdeskError('LLM_UNAVAILABLE', `The LLM did not answer: ${redact(error.message)}`, undefined, {
      cause: error,
    });
  if (error instanceof APIError && typeof error.status === 'number') {
    const status = error.status;
    const message = `The LLM answered ${status}: ${redact(error.message).slice(0, 300)}`;
    if (status === 429) {
      const retryAfterMs = retryAfterMsOf(error.headers);
      return new StreamdeskError('LLM_RATE_LIMITED', message, undefined, {
        cause: error,
        ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
      });
    }
    // A timeout or conflict on the server's side may pass; any other 4xx means the request itself is wrong (key, model, schema).
    if (status >= 500 || status === 408 || status === 409)
      return new StreamdeskError('LLM_UNAVAILABLE', message, undefined, { cause: error });
    return new StreamdeskError('LLM_REJECTED', message, undefined, { cause: error });
  }
  const message = error instanceof Error ? error.message : String(error);
  return new StreamdeskError('LLM_UNAVAILABLE', `The LLM call failed: ${redact(message)}`, undefined, { cause: error });
}
