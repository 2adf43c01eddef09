import { describe, expect, it } from 'vitest';
import {
  parseCountAfterReply,
  parseGateAcquireReply,
  parseGateReleaseReply,
  parseIngestReply,
  parseSettleReply,
} from '../../src/streams/scripts.js';

describe('Lua script replies', () => {
  it('reads well-formed replies', () => {
    expect(parseIngestReply([1, 'e1', '1-0'])).toEqual({ outcome: 'appended', eventId: 'e1', streamId: '1-0' });
    expect(parseIngestReply([0, 'e0'])).toEqual({ outcome: 'duplicate', eventId: 'e0' });
    expect(parseIngestReply([2, 'e0'])).toEqual({ outcome: 'conflict', eventId: 'e0' });
    expect(parseSettleReply([2, 0, -1], 3)).toEqual([2, 0, 'taken-over']);
    expect(parseCountAfterReply([10, 3], 2)).toEqual([10, 3]);
    expect(parseGateAcquireReply([1, 0, 'ok'])).toEqual({ admitted: true });
    expect(parseGateAcquireReply([0, 250, 'probing'])).toEqual({ admitted: false, waitMs: 250, reason: 'probing' });
    expect(parseGateReleaseReply([150, 'half', 0])).toEqual({ window: 1.5, breaker: 'half', pausedMs: 0 });
  });

  it('refuses malformed replies as internal errors', () => {
    const internal = { code: 'INTERNAL' };
    expect(() => parseIngestReply([1, 'e1'])).toThrow(expect.objectContaining(internal));
    expect(() => parseIngestReply('OK')).toThrow(expect.objectContaining(internal));
    expect(() => parseSettleReply([1], 2)).toThrow(expect.objectContaining(internal));
    expect(() => parseSettleReply([-2], 1)).toThrow(expect.objectContaining(internal));
    expect(() => parseCountAfterReply(['3'], 1)).toThrow(expect.objectContaining(internal));
    expect(() => parseGateAcquireReply([0, 10, 'later'])).toThrow(/llm-gate\.lua answered/);
    expect(() => parseGateReleaseReply([100, 'ajar', 0])).toThrow(expect.objectContaining(internal));
  });
});
