import { createHash, randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { StreamdeskError } from '../errors.js';
import type { RedisKeys } from '../streams/keys.js';
import type { RedisClient } from '../streams/redis.js';
import {
  gateAcquire,
  gateRelease,
  type GateAnswer,
  type GateDenyReason,
  type GateReleaseState,
} from '../streams/scripts.js';

export type GateLimits = Readonly<{
  requestsPerMinute: number;
  tokensPerMinute: number;
  maxConcurrency: number;
  breakerFailures: number;
  breakerOpenMs: number;
}>;

/** How a call went, as the gate learns from it. */
export type CallOutcome = 'ok' | 'rate_limited' | 'failure' | 'abandoned';

export type DenyReason = GateDenyReason;

export type GateLease = Readonly<{ id: string; estimatedTokens: number }>;

export type GateState = Readonly<GateReleaseState>;

export type GateObserver = {
  /** A call had to wait (counted once per call and reason). */
  waited?(provider: string, reason: DenyReason): void;
  /** The state after a call: the concurrency window, the breaker, any pause. */
  released?(provider: string, state: GateState): void;
};

/** Longer pauses than this go back to the runner, which retries the entry without using an attempt. */
export const inlineWaitMaxMs = 5_000;

/** llm-gate.lua acquire, for one provider's limits. */
function acquireScript(
  redis: RedisClient,
  keys: RedisKeys,
  provider: string,
  lease: string,
  limits: GateLimits,
  estimatedTokens: number,
  leaseMs: number,
): Promise<GateAnswer> {
  return gateAcquire(
    redis,
    { gate: keys.llmGate(provider), leases: keys.llmLeases(provider) },
    {
      lease,
      requestsPerMinute: limits.requestsPerMinute,
      tokensPerMinute: limits.tokensPerMinute,
      estimatedTokens,
      maxConcurrency: limits.maxConcurrency,
      leaseMs,
    },
  );
}

/** llm-gate.lua release, for one provider's limits. */
function releaseScript(
  redis: RedisClient,
  keys: RedisKeys,
  provider: string,
  lease: string,
  limits: GateLimits,
  outcome: CallOutcome,
  tokenCorrection: number,
  retryAfterMs: number,
): Promise<GateState> {
  return gateRelease(
    redis,
    { gate: keys.llmGate(provider), leases: keys.llmLeases(provider) },
    {
      lease,
      outcome,
      tokenCorrection,
      retryAfterMs,
      breakerFailures: limits.breakerFailures,
      breakerOpenMs: limits.breakerOpenMs,
      maxConcurrency: limits.maxConcurrency,
    },
  );
}

/**
 * A provider and model as a key part: the API's host and the model name, and for a tenant's own
 * API key a tag of it (its limits are that account's, not the global key's).
 */
export function providerId(baseUrl: string | undefined, model: string, account?: string): string {
  const host = baseUrl ? new URL(baseUrl).host : 'api.openai.com';
  return `${host}/${model}${account ? `/${account}` : ''}`.replace(/[^A-Za-z0-9._/-]/g, '_');
}

/** A short tag naming an API key without revealing it (12 hex digits of its SHA-256). */
export function accountTag(apiKey: string): string {
  return `key-${createHash('sha256').update('streamdesk-llm-account:').update(apiKey).digest('hex').slice(0, 12)}`;
}

/**
 * The provider's limits, shared by every worker process through Redis: a request and a token
 * bucket, an adaptive concurrency window, a pause after a 429 and a circuit breaker. Waits of this
 * process queue in arrival order and only the first polls Redis. A short wait (the buckets, the
 * window, a pause of a few seconds) happens here; a longer one is thrown as LLM_RATE_LIMITED or
 * LLM_UNAVAILABLE with `retryAfterMs`, which the runner retries without using up an attempt.
 */
export class ProviderGate {
  private line: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
    readonly provider: string,
    private readonly limits: GateLimits,
    /** Longer than the call's timeout: a lease of a crashed process frees its slot when it expires. */
    private readonly leaseMs: number,
    private readonly observer: GateObserver = {},
  ) {}

  acquire(estimatedTokens: number, signal: AbortSignal): Promise<GateLease> {
    const turn = this.line.then(() => this.poll(estimatedTokens, signal));
    this.line = turn.catch(() => undefined);
    return turn;
  }

  private async poll(estimatedTokens: number, signal: AbortSignal): Promise<GateLease> {
    const id = randomBytes(8).toString('hex');
    const reported = new Set<DenyReason>();
    for (;;) {
      if (signal.aborted) throw new StreamdeskError('LLM_UNAVAILABLE', 'The LLM call was abandoned at shutdown');
      const answer = await acquireScript(
        this.redis,
        this.keys,
        this.provider,
        id,
        this.limits,
        estimatedTokens,
        this.leaseMs,
      );
      if (answer.admitted) return { id, estimatedTokens };
      if (!reported.has(answer.reason)) {
        reported.add(answer.reason);
        this.observer.waited?.(this.provider, answer.reason);
      }
      if (answer.waitMs > inlineWaitMaxMs) {
        const code = answer.reason === 'open' ? 'LLM_UNAVAILABLE' : 'LLM_RATE_LIMITED';
        const why =
          answer.reason === 'open' ? 'its circuit breaker is open after repeated failures' : 'it is rate limited';
        throw new StreamdeskError(
          code,
          `Calls to ${this.provider} wait ${Math.ceil(answer.waitMs / 1_000)} s: ${why}`,
          undefined,
          { retryAfterMs: answer.waitMs },
        );
      }
      // A little jitter keeps the first waiters of several processes from polling in step.
      await sleep(Math.max(5, answer.waitMs) + Math.random() * 10, undefined, { signal }).catch(() => undefined);
    }
  }

  /**
   * Reports how a call went; `usedTokens` corrects the estimate charged when it was admitted;
   * `retryAfterMs` is a 429's Retry-After (-1: none given, the gate backs off adaptively).
   */
  async release(lease: GateLease, outcome: CallOutcome, usedTokens: number, retryAfterMs = -1): Promise<void> {
    try {
      const state = await releaseScript(
        this.redis,
        this.keys,
        this.provider,
        lease.id,
        this.limits,
        outcome,
        usedTokens - lease.estimatedTokens,
        retryAfterMs,
      );
      this.observer.released?.(this.provider, state);
    } catch {
      // Redis is down: the call's result must not be lost for it. Its lease expires on its own;
      // only this call's token correction and its signal to the window are missed.
    }
  }
}
