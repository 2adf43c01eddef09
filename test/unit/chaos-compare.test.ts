import { describe, expect, it } from 'vitest';
import { canonical, compareRows, missingRow, type Row } from '../../chaos/compare.js';

const keyOf = (row: Row) => `${String(row.tenant_id)}/${String(row.ticket_id)}`;
const row = (ticket: string, extra: Row = {}): Row => ({
  tenant_id: 'acme',
  ticket_id: ticket,
  status: 'written_back',
  context: { similar: [{ id: 'T-1', score: 0.5 }], hosts: [] },
  received_at: new Date('2026-01-02T03:04:05.678Z'),
  event_ids: ['b', 'a', 'c'],
  ...extra,
});

describe('comparing projected rows with their rebuild', () => {
  it('finds equal rows equal whatever the object key order, date instance or applied order of event ids', () => {
    const live = [row('T-1')];
    const rebuilt = [
      row('T-1', {
        context: { hosts: [], similar: [{ score: 0.5, id: 'T-1' }] },
        received_at: new Date('2026-01-02T03:04:05.678Z'),
        event_ids: ['a', 'b', 'c'],
      }),
    ];
    expect(compareRows(live, rebuilt, keyOf, { unordered: ['event_ids'] })).toEqual({
      compared: 1,
      differing: [],
      byColumn: {},
    });
  });

  it('names each column that differs, and counts rows per column', () => {
    const live = [row('T-1', { context: null }), row('T-2', { status: 'enhanced', written_back_at: null }), row('T-3')];
    const rebuilt = [row('T-1'), row('T-2', { written_back_at: new Date('2026-01-02T03:05:00Z') }), row('T-3')];
    const result = compareRows(live, rebuilt, keyOf, { unordered: ['event_ids'] });
    expect(result.differing).toEqual([
      { key: 'acme/T-1', columns: ['context'] },
      { key: 'acme/T-2', columns: ['status', 'written_back_at'] },
    ]);
    expect(result.byColumn).toEqual({ context: 1, status: 1, written_back_at: 1 });
  });

  it('keeps array order where it is part of the value, and skips ignored columns', () => {
    const live = [row('T-1', { event_ids: ['a', 'b'], updated_at: 1 })];
    const rebuilt = [row('T-1', { event_ids: ['b', 'a'], updated_at: 2 })];
    expect(compareRows(live, rebuilt, keyOf, { ignore: ['updated_at'] }).differing).toEqual([
      { key: 'acme/T-1', columns: ['event_ids'] },
    ]);
  });

  it('reports rows that exist on one side only', () => {
    const result = compareRows([row('T-1'), row('T-2')], [row('T-2'), row('T-3')], keyOf, { unordered: ['event_ids'] });
    expect(result.differing).toEqual([
      { key: 'acme/T-1', columns: [missingRow] },
      { key: 'acme/T-3', columns: [missingRow] },
    ]);
    expect(result.compared).toBe(2);
  });

  it('writes duplicates of an unordered column as they are, so a doubled event id still differs', () => {
    expect(canonical(['a', 'a', 'b'], true)).not.toBe(canonical(['a', 'b'], true));
  });
});
