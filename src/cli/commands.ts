import type { Config } from '../config/config.js';

/** Commands added by other modules (replay, demo), dispatched by name from main. */
export type ExtraCommand = { usage: string; run(config: Config, args: string[]): Promise<number> };

export const extraCommands: Record<string, ExtraCommand> = {};
