import { execFile, execFileSync } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { waitFor } from '../test/support/env.js';

const run = promisify(execFile);
const bin = process.env.PG_BIN ?? '/usr/lib/postgresql/15/bin';

/** initdb refuses root: the cluster's files belong to the postgres user and its tools run as it. */
function asPostgres(command: string, args: string[]): Promise<{ stdout: string; stderr: string }> {
  const tool = join(bin, command);
  return process.getuid?.() === 0 ? run('runuser', ['-u', 'postgres', '--', tool, ...args]) : run(tool, args);
}

/**
 * A Postgres cluster of one scenario's own: initdb into a temporary folder, its own port, its
 * socket in the same folder. `pg_ctl` starts it detached, so `remove()` must run (the cleanup
 * stack sees to it on failure and on Ctrl-C).
 */
export class OwnPostgres {
  readonly dir = mkdtempSync(join(tmpdir(), 'streamdesk-chaos-pg-'));
  private readonly data = join(this.dir, 'data');

  constructor(readonly port: number) {
    if (process.getuid?.() === 0) {
      chownSync(this.dir, uidOf('postgres'), gidOf('postgres'));
      chmodSync(this.dir, 0o700);
    }
  }

  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/streamdesk`;
  }

  async init(): Promise<void> {
    await asPostgres('initdb', ['-D', this.data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8']);
  }

  async start(): Promise<void> {
    await this.pgCtl('start', ['-l', join(this.dir, 'postgres.log')]);
    await this.ready();
  }

  /** Crash-like: no checkpoint, recovery from the WAL on the way back up. */
  async restartImmediate(): Promise<void> {
    await this.pgCtl('restart', ['-m', 'immediate', '-l', join(this.dir, 'postgres.log')]);
    await this.ready();
  }

  async stop(mode: 'fast' | 'immediate' = 'fast'): Promise<void> {
    await this.pgCtl('stop', ['-m', mode]);
  }

  async remove(): Promise<void> {
    await this.stop('immediate').catch(() => undefined);
    rmSync(this.dir, { recursive: true, force: true });
  }

  private async pgCtl(action: string, extra: string[]): Promise<void> {
    const options = `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1 -c max_connections=200 -c shared_buffers=64MB`;
    await asPostgres('pg_ctl', [action, '-D', this.data, '-w', '-t', '60', '-o', options, ...extra]);
  }

  private async ready(): Promise<void> {
    await waitFor(
      async () => {
        const client = new pg.Client({
          connectionString: `postgres://postgres@127.0.0.1:${this.port}/postgres`,
          connectionTimeoutMillis: 1_000,
        });
        client.on('error', () => undefined);
        try {
          await client.connect();
          return (await client.query('SELECT 1 AS ok')).rows.length === 1;
        } finally {
          await client.end().catch(() => undefined);
        }
      },
      { timeoutMs: 30_000, intervalMs: 100, message: `postgres on ${this.port} ready` },
    );
  }
}

function idOf(flag: '-u' | '-g', user: string): number {
  return Number(execFileSync('id', [flag, user], { encoding: 'utf8' }).trim());
}

const uidOf = (user: string) => idOf('-u', user);
const gidOf = (user: string) => idOf('-g', user);
