import { assetsCommand, kbCommand, ticketsCommand } from './admin-data.js';
import type { Command } from './command.js';
import { demoCommand } from './demo.js';
import { dlqCommand } from './dlq.js';
import { budgetCommand, usageCommand } from './llm.js';
import { migrateCommand, startCommand } from './pipeline.js';
import { replayCommand } from './replay.js';
import { statusCommand } from './status.js';
import { tenantCommand } from './tenant.js';

/** Every `streamdesk` command, in the order `--help` lists them. */
export const commands: readonly Command[] = [
  startCommand,
  migrateCommand,
  tenantCommand,
  statusCommand,
  dlqCommand,
  replayCommand,
  ticketsCommand,
  assetsCommand,
  kbCommand,
  usageCommand,
  budgetCommand,
  demoCommand,
];
