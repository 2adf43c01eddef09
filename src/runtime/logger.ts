import { pino, type Logger } from 'pino';
import type { Config } from '../config/config.js';

/** JSON logs. Secrets, signatures and bodies are redacted wherever they might be logged. */
export function createLogger(config: Pick<Config, 'logLevel'>, role: string): Logger {
  return pino({
    level: config.logLevel,
    base: { service: 'streamdesk', role },
    redact: {
      paths: [
        'secret', '*.secret', 'authToken', '*.authToken', 'writeback.secret', 'writeback.authToken',
        'req.headers.authorization', 'req.headers["x-streamdesk-signature"]', 'headers.authorization', 'body', 'rawBody',
      ],
      censor: '[redacted]',
    },
  });
}
