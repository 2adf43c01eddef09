import type { Config } from '../config/config.js';

/** One group of lines in `streamdesk --help`: how a (sub)command is called and what it does. */
export type CommandHelp = { usage: readonly string[]; summary: readonly string[] };

/** A `streamdesk` command: main dispatches on its name, `--help` prints its help, in table order. */
export type Command = {
  name: string;
  help: readonly CommandHelp[];
  /** The exit status; -1 keeps the process running (a started pipeline exits on a signal). */
  run(config: Config, args: string[]): Promise<number>;
};

/** Where summaries start, so they line up in one column. */
const summaryColumn = 47;

/**
 * The help lines of a command: each usage line indented by two, the summary beside the last one
 * when it fits with two spaces to spare, else below it; further summary lines in the same column.
 */
export function formatHelp(help: readonly CommandHelp[]): string {
  return help
    .flatMap(({ usage, summary }) => {
      const lines = usage.map((line) => `  ${line}`);
      const last = lines.pop() ?? '';
      const [first = '', ...more] = summary;
      const inline = last.length + 2 <= summaryColumn;
      return [
        ...lines,
        ...(inline ? [`${last.padEnd(summaryColumn)}${first}`] : [last, `${' '.repeat(summaryColumn)}${first}`]),
        ...more.map((line) => `${' '.repeat(summaryColumn)}${line}`),
      ];
    })
    .map((line) => `${line}\n`)
    .join('');
}
