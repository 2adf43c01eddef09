import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { exitOf, listeningPort, spawnCli } from '../test/support/child.js';

export type RoleName = 'ingest' | 'worker' | 'projector';

export type RoleProcess = { role: RoleName; name: string; child: ChildProcessWithoutNullStreams };

/**
 * The roles of one scenario as separate `streamdesk start --role …` processes, each logging into
 * its own file. Everything it started is killed by `killAll()`.
 */
export class Deployment {
  private readonly running = new Set<RoleProcess>();
  private readonly started = new Map<RoleName, number>();
  private readonly logs: WriteStream[] = [];

  constructor(
    private readonly env: Record<string, string>,
    private readonly logDir: string,
  ) {}

  processes(role: RoleName): RoleProcess[] {
    return [...this.running].filter((instance) => instance.role === role);
  }

  /** Starts a role and resolves once it listens (ingest on `port`, the others on any port). */
  async start(role: RoleName, port = 0): Promise<RoleProcess> {
    const n = (this.started.get(role) ?? 0) + 1;
    this.started.set(role, n);
    const name = `${role}-${n}`;
    const child = spawnCli(['start', '--role', role], { ...this.env, PORT: String(port) });
    const log = createWriteStream(join(this.logDir, `${name}.log`));
    this.logs.push(log);
    child.stdout.pipe(log, { end: false });
    child.stderr.pipe(log, { end: false });
    const instance: RoleProcess = { role, name, child };
    this.running.add(instance);
    child.once('exit', () => this.running.delete(instance));
    await listeningPort(child, 60_000);
    return instance;
  }

  async kill(instance: RoleProcess, signal: 'SIGKILL' | 'SIGTERM' = 'SIGKILL'): Promise<void> {
    instance.child.kill(signal);
    await exitOf(instance.child);
  }

  /** SIGSTOP: the process stays alive but neither works nor keeps its entries fresh. */
  freeze(instance: RoleProcess): void {
    instance.child.kill('SIGSTOP');
  }

  thaw(instance: RoleProcess): void {
    instance.child.kill('SIGCONT');
  }

  /** SIGTERM first (a clean stop), SIGKILL for whatever has not exited after `graceMs`. */
  async stopAll(graceMs = 12_000): Promise<void> {
    const all = [...this.running];
    for (const { child } of all) {
      child.kill('SIGCONT');
      child.kill('SIGTERM');
    }
    const timer = setTimeout(() => all.forEach(({ child }) => child.kill('SIGKILL')), graceMs);
    await Promise.all(all.map(({ child }) => exitOf(child)));
    clearTimeout(timer);
    for (const log of this.logs.splice(0)) log.end();
  }

  killAll(): void {
    for (const { child } of this.running) child.kill('SIGKILL');
  }
}
