import { pino } from 'pino';
import type { Config } from '../config/config.js';
import { createLogger } from '../runtime/logger.js';
import { openServices, type Services } from '../runtime/services.js';

/**
 * The services a one-shot command works with. Its logger writes to stderr, synchronously, and says
 * nothing at `info` (the default): stdout is the command's own output, which scripts read.
 */
export function openCliServices(config: Config): Promise<Services> {
  return openServices(
    config,
    createLogger(
      { logLevel: config.logLevel === 'info' ? 'warn' : config.logLevel },
      'cli',
      pino.destination({ dest: 2, sync: true }),
    ),
  );
}
