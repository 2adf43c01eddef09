import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Role } from '../../src/runtime/roles.js';
import { freePort } from '../../test/support/redis-server.js';
import type { Cleanups } from './cleanup.js';
import { until } from './stats.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** A `streamdesk start --role <role>` child process, as an operator would run it. */
export type RoleProcess = { label: string; role: Role; pid: number; port: number; stop(): Promise<void> };

/**
 * Starts `streamdesk start --role <role>` (src/cli/bin.ts through tsx, the same Node) with only the
 * given environment, in a process group of its own, so that stopping it (and the cleanup stack on
 * failure or Ctrl-C) kills whatever it started too. Resolves once its /healthz answers.
 */
export async function startRoleProcess(
  label: string,
  role: Role,
  env: Record<string, string>,
  options: { logFile: string; cleanups: Cleanups; timeoutMs?: number },
): Promise<RoleProcess> {
  const port = await freePort();
  const log = openSync(options.logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/bin.ts', 'start', '--role', role], {
      cwd: root,
      env: { PATH: process.env.PATH ?? '', ...env, PORT: String(port), HOST: '127.0.0.1' },
      stdio: ['ignore', log, log],
      detached: true,
    });
  } finally {
    closeSync(log);
  }
  const pid = child.pid!;
  let exited = child.exitCode !== null;
  const exit = new Promise<void>((resolve) =>
    child.once('exit', () => {
      exited = true;
      resolve();
    }),
  );
  const killGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-pid, signal);
    } catch {
      // Already gone.
    }
  };
  const forget = options.cleanups.push(`streamdesk ${label}`, async () => killGroup('SIGKILL'));
  const stop = async () => {
    // A clean stop (SIGTERM: finish or release in-flight entries), then whatever is left goes.
    killGroup('SIGTERM');
    await Promise.race([exit, new Promise((resolve) => setTimeout(resolve, 15_000))]);
    killGroup('SIGKILL');
    forget();
  };
  try {
    await until(
      async () => {
        if (exited)
          throw new Error(`streamdesk ${label} (--role ${role}) exited while starting; see ${options.logFile}`);
        try {
          return (await fetch(`http://127.0.0.1:${port}/healthz`)).ok;
        } catch {
          return false;
        }
      },
      { timeoutMs: options.timeoutMs ?? 60_000, intervalMs: 100, what: `streamdesk ${label} to answer /healthz` },
    );
  } catch (error) {
    await stop();
    throw error;
  }
  return { label, role, pid, port, stop };
}
