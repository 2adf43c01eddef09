import { describe, expect, it } from 'vitest';
import { infoRecords, pendingSummary, streamEntries } from '../../src/streams/reply.js';

describe('Redis replies read by status, retention and the DLQ', () => {
  it('reads stream entries, group infos and a pending summary', () => {
    expect(streamEntries('XRANGE', [['1-0', ['a', '1']]])).toEqual([['1-0', ['a', '1']]]);
    expect(infoRecords('XINFO GROUPS', [['name', 'context', 'pending', 2]])).toEqual([{ name: 'context', pending: 2 }]);
    expect(pendingSummary([2, '1-0', '3-0', [['c1', '2']]])).toEqual({ count: 2, oldestId: '1-0' });
    expect(pendingSummary([0, null, null, null])).toEqual({ count: 0, oldestId: null });
  });

  it('refuses a reply of another shape with an INTERNAL error naming the command', () => {
    expect(() => streamEntries('XRANGE', [['1-0', null]])).toThrow(/XRANGE answered/);
    expect(() => infoRecords('XINFO GROUPS', 'OK')).toThrow(expect.objectContaining({ code: 'INTERNAL' }));
    expect(() => pendingSummary(['2', '1-0'])).toThrow(/XPENDING answered/);
  });
});
