import { Writable } from 'node:stream';
import { pino, type Level, type Logger } from 'pino';

/** A pino logger that keeps every line it writes in `lines`, for tests that check what was logged. */
export function capturingLogger(lines: string[], level: Level = 'trace'): Logger {
  return pino(
    { level },
    new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    }),
  );
}
