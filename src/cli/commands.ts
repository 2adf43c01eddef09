import type { Config } from '../config/config.js';
import { assetsCommand, kbCommand, ticketsCommand } from './admin-data.js';
import { budgetCommand, usageCommand } from './llm.js';
import { replayCommand } from './replay.js';

/** Commands of their own modules (replay, demo), dispatched by name from main. */
export type ExtraCommand = { usage: string; run(config: Config, args: string[]): Promise<number> };

export const extraCommands: Record<string, ExtraCommand> = {
  replay: replayCommand,
  tickets: ticketsCommand,
  assets: assetsCommand,
  kb: kbCommand,
  usage: usageCommand,
  budget: budgetCommand,
};
