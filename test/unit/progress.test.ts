import { describe, expect, it } from 'vitest';
import { progressReporter } from '../../src/replay/progress.js';

function fakeStream(isTTY: boolean) {
  const writes: string[] = [];
  return { stream: { isTTY, write: (chunk: string) => writes.push(chunk) } as unknown as NodeJS.WriteStream, writes };
}

describe('replay progress', () => {
  it('draws a bar with events/s and ETA on a terminal', () => {
    let now = 0;
    const { stream, writes } = fakeStream(true);
    const progress = progressReporter(stream, 'rebuild tickets', () => now);
    now = 2_000;
    progress.update(5_000, 20_000);
    expect(writes.at(-1)).toBe(
      '\rrebuild tickets [########----------------------] 5,000/20,000 events  2,500 ev/s  ETA 6s   ',
    );
    progress.finish({ events: 20_000 });
    expect(writes.at(-1)).toBe('\n');
  });

  it('follows the bar with a note on a terminal', () => {
    let now = 0;
    const { stream, writes } = fakeStream(true);
    const progress = progressReporter(stream, 'rebuild tickets', () => now);
    now = 1_000;
    progress.update(1_000, 4_000, { tenantsDone: 1 }, 'build · tenants 1/3 done · now acme, globex');
    expect(writes.at(-1)).toBe(
      '\rrebuild tickets [########----------------------] 1,000/4,000 events  1,000 ev/s  ETA 3s  build · tenants 1/3 done · now acme, globex   ',
    );
  });

  it('writes one JSON line per second when the output is not a terminal', () => {
    let now = 0;
    const { stream, writes } = fakeStream(false);
    const progress = progressReporter(stream, 'rebuild tickets', () => now);
    now = 1_000;
    progress.update(1_000, 4_000, { tenant: 'acme' });
    now = 1_500;
    progress.update(1_500, 4_000);
    now = 2_000;
    progress.finish({ events: 4_000 });
    expect(writes.map((line) => JSON.parse(line))).toEqual([
      { progress: 'rebuild tickets', done: 1_000, total: 4_000, eventsPerSecond: 1_000, etaSeconds: 3, tenant: 'acme' },
      { progress: 'rebuild tickets', finished: true, seconds: 2, events: 4_000 },
    ]);
  });

  it('never shows more done than its total: an estimate that fell short grows to what is done', () => {
    let now = 0;
    const { stream, writes } = fakeStream(false);
    const progress = progressReporter(stream, 'replay enhance', () => now);
    now = 1_000;
    progress.update(120, 100);
    expect(JSON.parse(writes.at(-1)!)).toMatchObject({ done: 120, total: 120, etaSeconds: 0 });
    const terminal = fakeStream(true);
    const bar = progressReporter(terminal.stream, 'replay enhance', () => now);
    now = 2_000;
    bar.update(7, 0);
    expect(terminal.writes.at(-1)).toContain(' 7/7 events ');
  });
});
