import { loadConfig } from '../config/config.js';
import { findUnstorable } from '../storable.js';
import { formatHelp } from './command.js';
import { commands } from './commands.js';
import { UsageError } from './usage-error.js';

const usage = `Usage: streamdesk <command> [options]

Commands:
${commands.map((command) => formatHelp(command.help)).join('')}
Configuration comes from environment variables; see README.md.`;

export { UsageError };

/** Runs one command; its exit status, or -1 when it keeps running (start). */
export async function main(argv: string[]): Promise<number> {
  const unstorable = argv.flatMap((arg, index) => findUnstorable(arg, `argument ${index + 1}`));
  if (unstorable.length > 0)
    throw new UsageError(unstorable.map((field) => `${field.path}: ${field.message}`).join('; '));
  const [name, ...rest] = argv;
  if (!name || name === 'help' || name === '--help' || name === '-h') {
    process.stdout.write(`${usage}\n`);
    return name ? 0 : 2;
  }
  const config = loadConfig();
  const command = commands.find((candidate) => candidate.name === name);
  if (!command) throw new UsageError(`Unknown command "${name}"`);
  return command.run(config, rest);
}

/** Runs the CLI with the process's arguments and exits with its status; errors are one line, never a stack. */
export function runCli(argv: string[] = process.argv.slice(2)): void {
  main(argv).then(
    (code) => {
      if (code >= 0) process.exit(code);
    },
    (error: unknown) => {
      process.stderr.write(`streamdesk: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(error instanceof UsageError ? 2 : 1);
    },
  );
}
