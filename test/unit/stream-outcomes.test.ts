import { describe, expect, it } from 'vitest';
import { StreamdeskError } from '../../src/errors.js';
import { decodeEvent, encodeEvent, fieldsToRecord, type TicketEvent } from '../../src/events.js';
import {
  classify,
  classifyAll,
  presetOutcome,
  retryDelay,
  type ClassifyContext,
  type EntryState,
} from '../../src/streams/outcomes.js';
import type { Outcome } from '../../src/streams/processor.js';
import { receivedEvent } from '../support/events.js';

const now = Date.parse('2026-12-03T12:00:00.000Z');
const ctx: ClassifyContext = { group: 'enhance', policy: { maxAttempts: 3 }, emitsFailures: true, now };

function entry(event: TicketEvent, overrides: Partial<EntryState> = {}): EntryState {
  return {
    streamId: '1700000000000-0',
    lane: 'normal',
    fields: encodeEvent(event),
    event,
    failures: 0,
    firstFailedAt: undefined,
    deliveries: 1,
    ...overrides,
  };
}

const failure = (code: 'HANDLER_FAILED' | 'LLM_REJECTED' | 'LLM_RATE_LIMITED', retryAfterMs?: number): Outcome => ({
  ok: false,
  error: new StreamdeskError(code, `${code} at https://user:secret@example.com/x`, undefined, {
    ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
  }),
});

describe('outcome classification', () => {
  const input = receivedEvent('acme', 'T-1');

  it('acknowledges a success and emits its follow-ons in the input lane, caused by the input', () => {
    const decision = classify(
      entry(input),
      {
        ok: true,
        emit: [{ type: 'ticket.written_back', data: { target: 'none', noteId: null, status: null } }],
        traceparent: '00-11111111111111111111111111111111-2222222222222222-01',
      },
      ctx,
    );
    expect(decision.action).toBe('ack');
    if (decision.action !== 'ack') return;
    expect(decision.events).toHaveLength(1);
    const [followOn] = decision.events;
    expect(followOn).toMatchObject({
      type: 'ticket.written_back',
      tenant: 'acme',
      ticket: 'T-1',
      causation: input.id,
      correlation: input.correlation,
      traceparent: '00-11111111111111111111111111111111-2222222222222222-01',
    });
    // The same input, group and position give the same id: a redelivery is recognised as a repeat.
    const again = classify(entry(input), { ok: true, emit: [followOn!] }, ctx);
    expect(again.action === 'ack' && again.events[0]!.id).toBe(followOn!.id);
    expect(again.action === 'ack' && again.events[0]!.traceparent).toBe(input.traceparent);
  });

  it('retries a retryable failure under max attempts, recording it without credentials', () => {
    const decision = classify(
      entry(input, { failures: 1, firstFailedAt: now - 5_000 }),
      failure('HANDLER_FAILED'),
      ctx,
    );
    expect(decision).toMatchObject({
      action: 'retry',
      code: 'HANDLER_FAILED',
      failures: 2,
      firstFailedAt: now - 5_000,
      record: { failures: 2, firstFailedAt: now - 5_000 },
    });
    if (decision.action !== 'retry') return;
    expect(decision.record.lastError).toMatch(/^HANDLER_FAILED: HANDLER_FAILED at https:\/\/\[redacted\]@example.com/);
    expect(decision.message).not.toContain('secret');
  });

  it('dead-letters at max attempts, with the entry and ticket.failed', () => {
    const decision = classify(
      entry(input, { failures: 2, firstFailedAt: now - 60_000 }),
      failure('HANDLER_FAILED'),
      ctx,
    );
    expect(decision.action).toBe('dead-letter');
    if (decision.action !== 'dead-letter') return;
    expect(decision.attempts).toBe(3);
    const letter = fieldsToRecord(decision.deadLetter);
    expect(letter).toMatchObject({
      entry: '1700000000000-0',
      lane: 'normal',
      group: 'enhance',
      code: 'HANDLER_FAILED',
      attempts: '3',
      firstFailedAt: new Date(now - 60_000).toISOString(),
      lastFailedAt: new Date(now).toISOString(),
    });
    expect(decodeEvent(JSON.parse(letter.event!) as Record<string, string>).id).toBe(input.id);
    expect(decision.events).toHaveLength(1);
    expect(decision.events[0]).toMatchObject({
      type: 'ticket.failed',
      causation: input.id,
      data: { stage: 'enhance', failedEventId: input.id, attempts: 3, error: { code: 'HANDLER_FAILED' } },
    });
  });

  it('dead-letters a permanent error at once', () => {
    const decision = classify(entry(input), failure('LLM_REJECTED'), ctx);
    expect(decision).toMatchObject({ action: 'dead-letter', code: 'LLM_REJECTED', attempts: 1 });
  });

  it('emits no ticket.failed for a group that does not announce failures', () => {
    const decision = classify(entry(input), failure('LLM_REJECTED'), { ...ctx, emitsFailures: false });
    expect(decision.action === 'dead-letter' && decision.events).toEqual([]);
  });

  it("waits out a peer's Retry-After without using an attempt", () => {
    const decision = classify(entry(input, { failures: 2 }), failure('LLM_RATE_LIMITED', 30_000), ctx);
    expect(decision).toMatchObject({ action: 'wait', code: 'LLM_RATE_LIMITED', retryAfterMs: 30_000 });
    const policy = { baseMs: 100, maxMs: 1_000 };
    expect(retryDelay([{ failures: 2, outages: 1, retryAfterMs: 30_000 }], policy, () => 0)).toEqual({
      delayMs: 30_000,
      attempt: 3,
    });
    // Without one, the backoff of the most failures in the batch, jitter included.
    expect(
      retryDelay(
        [
          { failures: 1, outages: 0, retryAfterMs: undefined },
          { failures: 0, outages: 3, retryAfterMs: undefined },
        ],
        policy,
        () => 0.5,
      ),
    ).toEqual({ delayMs: 500, attempt: 4 });
  });

  it('dead-letters corrupt and undecodable entries without processing them', () => {
    const corrupt: EntryState = {
      ...entry(input),
      fields: ['garbage', 'x'],
      event: undefined,
      decodeError: new StreamdeskError('INVALID_EVENT', 'Invalid event envelope'),
    };
    const preset = presetOutcome(corrupt, ctx.policy, 'all');
    expect(preset).toMatchObject({ ok: false, error: { code: 'INVALID_EVENT' } });
    const decision = classify(corrupt, preset!, ctx);
    expect(decision).toMatchObject({ action: 'dead-letter', code: 'INVALID_EVENT', attempts: 1, events: [] });
    if (decision.action === 'dead-letter')
      expect(JSON.parse(fieldsToRecord(decision.deadLetter).event!)).toEqual({ garbage: 'x' });
  });

  it('settles unhandled types and over-delivered entries without processing them', () => {
    expect(presetOutcome(entry(input), ctx.policy, ['ticket.enhanced'])).toEqual({ ok: true, emit: [] });
    expect(presetOutcome(entry(input), ctx.policy, 'all')).toBeUndefined();
    const dying = presetOutcome(entry(input, { deliveries: 7 }), ctx.policy, 'all');
    expect(dying).toMatchObject({ ok: false, error: { code: 'HANDLER_FAILED', retryable: false } });
    expect(classify(entry(input, { deliveries: 7 }), dying!, ctx)).toMatchObject({ action: 'dead-letter' });
  });

  it('classifies a batch in order and retries an entry the processor gave no outcome', () => {
    const other = receivedEvent('acme', 'T-2');
    const decisions = classifyAll([entry(input), entry(other)], [{ ok: true, emit: [] }], ctx);
    expect(decisions.map((decision) => decision.action)).toEqual(['ack', 'retry']);
    expect(decisions[1]).toMatchObject({ code: 'INTERNAL' });
  });
});
