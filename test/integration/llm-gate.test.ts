import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StreamdeskError } from '../../src/errors.js';
import { ProviderGate, type DenyReason, type GateLimits, type GateState } from '../../src/llm/gate.js';
import { createTestEnv, type TestEnv } from '../support/env.js';
import { rejection } from '../support/rejection.js';

let t: TestEnv;
beforeAll(async () => {
  t = await createTestEnv();
});
afterAll(async () => {
  await t?.cleanup();
});

const unlimited: GateLimits = {
  requestsPerMinute: 0,
  tokensPerMinute: 0,
  maxConcurrency: 4,
  breakerFailures: 3,
  breakerOpenMs: 300,
};
const never = new AbortController().signal;

/** Two gates on one provider stand for two worker processes: they share nothing but Redis. */
function processes(provider: string, limits: GateLimits = unlimited) {
  const make = () => {
    const waits: DenyReason[] = [];
    const states: GateState[] = [];
    const gate = new ProviderGate(t.services.redis, t.services.keys, provider, limits, 10_000, {
      waited: (_, reason) => waits.push(reason),
      released: (_, state) => states.push(state),
    });
    return { gate, waits, states };
  };
  return [make(), make()] as const;
}

describe('the shared gate towards an LLM provider', () => {
  it('pauses every process after a 429 for its Retry-After, handing long pauses back to the runner', async () => {
    const [a, b] = processes('pause/model');
    const lease = await a.gate.acquire(100, never);
    await a.gate.release(lease, 'rate_limited', 0, 8_000);
    const error = await rejection(b.gate.acquire(100, never));
    expect(error).toBeInstanceOf(StreamdeskError);
    expect(error.code).toBe('LLM_RATE_LIMITED');
    expect(error.retryAfterMs).toBeGreaterThan(7_000);
    expect(error.retryAfterMs).toBeLessThanOrEqual(8_000);
    expect(b.waits).toEqual(['paused']);
  });

  it('halves the concurrency window on a 429 and grows it again additively', async () => {
    const [a, b] = processes('aimd/model');
    const leases = await Promise.all([1, 2, 3, 4].map(() => a.gate.acquire(1, never)));
    // The fifth call waits for a slot: the window is full across processes.
    const fifth = b.gate.acquire(1, never);
    await a.gate.release(leases[0]!, 'rate_limited', 0, 0);
    expect(a.states.at(-1)!.window).toBe(2);
    await a.gate.release(leases[1]!, 'ok', 1);
    expect(a.states.at(-1)!.window).toBe(2.5);
    // Two still in flight, a window of 2.5: the fifth gets in only when one more finishes.
    await a.gate.release(leases[2]!, 'ok', 1);
    const lease = await fifth;
    expect(b.waits).toContain('concurrency');
    await Promise.all([a.gate.release(leases[3]!, 'ok', 1), b.gate.release(lease, 'ok', 1)]);
  });

  it('opens the breaker after repeated failures, lets one probe through half-open, and closes on its success', async () => {
    const [a, b] = processes('breaker/model');
    for (let i = 0; i < unlimited.breakerFailures; i++)
      await a.gate.release(await a.gate.acquire(1, never), 'failure', 1);
    expect(a.states.at(-1)!.breaker).toBe('open');
    // After the open time the first caller probes; the other waits for the probe's verdict.
    const probe = await b.gate.acquire(1, never);
    expect(b.waits).toEqual(['open']);
    const waiting = a.gate.acquire(1, never);
    await expectEventually(() => a.waits.includes('probing'));
    await b.gate.release(probe, 'ok', 1);
    expect(b.states.at(-1)!.breaker).toBe('closed');
    await a.gate.release(await waiting, 'ok', 1);
  });

  it('opens again, for longer, when the probe fails', async () => {
    const [a, b] = processes('reopen/model', { ...unlimited, breakerOpenMs: 3_000 });
    for (let i = 0; i < unlimited.breakerFailures; i++)
      await a.gate.release(await a.gate.acquire(1, never), 'failure', 1);
    const probe = await b.gate.acquire(1, never);
    await b.gate.release(probe, 'failure', 1);
    const error = await rejection(a.gate.acquire(1, never));
    expect(error.code).toBe('LLM_UNAVAILABLE');
    // Doubled: 6 s, more than a caller waits inline.
    expect(error.retryAfterMs).toBeGreaterThan(5_000);
  });

  it('admits no more requests than the bucket holds, across processes', async () => {
    const [a, b] = processes('bucket/model', { ...unlimited, requestsPerMinute: 60, maxConcurrency: 100 });
    const first = await a.gate.acquire(1, never);
    // One request a second: the bucket holds one, the next caller has to wait for a refill.
    const second = b.gate.acquire(1, never);
    await second;
    expect(b.waits).toEqual(['requests']);
    await a.gate.release(first, 'ok', 1);
  });
});

async function expectEventually(check: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
  expect(check()).toBe(true);
}
