export type Progress = {
  /** `note` follows the bar on a terminal (what `detail` says in JSON lines, shortly). */
  update(done: number, total: number, detail?: Record<string, unknown>, note?: string): void;
  finish(summary: Record<string, unknown>): void;
};

/**
 * Progress of a long replay: a bar with events/s and ETA on a terminal, or one JSON line per
 * second (and a final one) when the output is not a terminal, for logs and scripts.
 */
export function progressReporter(out: NodeJS.WriteStream, label: string, now: () => number = Date.now): Progress {
  const started = now();
  let lastDraw = 0;
  const rate = (done: number) => done / Math.max(0.001, (now() - started) / 1_000);
  return {
    update(done, estimated, detail = {}, note) {
      // A total is an estimate: it never shows less than what is already done.
      const total = Math.max(estimated, done);
      const at = now();
      if (at - lastDraw < (out.isTTY ? 100 : 1_000)) return;
      lastDraw = at;
      const perSecond = rate(done);
      const etaSeconds = total > done && perSecond > 0 ? Math.ceil((total - done) / perSecond) : 0;
      if (out.isTTY) {
        const width = 30;
        const filled = total > 0 ? Math.min(width, Math.round((done / total) * width)) : 0;
        out.write(
          `\r${label} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${done.toLocaleString('en')}/${total.toLocaleString('en')} events  ${Math.round(perSecond).toLocaleString('en')} ev/s  ETA ${etaSeconds}s${note ? `  ${note}` : ''}   `,
        );
      } else {
        out.write(
          `${JSON.stringify({ progress: label, done, total, eventsPerSecond: Math.round(perSecond), etaSeconds, ...detail })}\n`,
        );
      }
    },
    finish(summary) {
      if (out.isTTY) out.write('\n');
      else
        out.write(
          `${JSON.stringify({ progress: label, finished: true, seconds: (now() - started) / 1_000, ...summary })}\n`,
        );
    },
  };
}
