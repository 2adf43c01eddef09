import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Cluster } from 'ioredis';
import { freePort } from './redis-server.js';
import { waitFor } from './env.js';

const run = promisify(execFile);

/** A three-primary Redis Cluster of the test's own, on free ports, removed afterwards. */
export class OwnRedisCluster {
  readonly dir = mkdtempSync(join(tmpdir(), 'streamdesk-cluster-'));
  private readonly processes: ChildProcess[] = [];
  ports: number[] = [];

  get nodes(): string {
    return this.ports.map((port) => `127.0.0.1:${port}`).join(',');
  }

  async start(): Promise<void> {
    this.ports = [await freePort(), await freePort(), await freePort()];
    for (const port of this.ports) {
      this.processes.push(
        spawn(
          'redis-server',
          [
            '--port',
            String(port),
            '--bind',
            '127.0.0.1',
            '--cluster-enabled',
            'yes',
            '--cluster-config-file',
            join(this.dir, `nodes-${port}.conf`),
            '--dir',
            this.dir,
            '--save',
            '',
            '--appendonly',
            'no',
          ],
          { stdio: 'ignore' },
        ),
      );
    }
    for (const port of this.ports)
      await waitFor(async () => (await run('redis-cli', ['-p', String(port), 'ping'])).stdout.trim() === 'PONG');
    await run('redis-cli', [
      '--cluster',
      'create',
      ...this.ports.map((port) => `127.0.0.1:${port}`),
      '--cluster-replicas',
      '0',
      '--cluster-yes',
    ]);
    await waitFor(
      async () => {
        const client = new Cluster(
          this.ports.map((port) => ({ host: '127.0.0.1', port })),
          { lazyConnect: true },
        );
        client.on('error', () => undefined);
        try {
          const info = String(await client.cluster('INFO'));
          return info.includes('cluster_state:ok');
        } finally {
          client.disconnect();
        }
      },
      { message: 'cluster state ok' },
    );
  }

  async stop(): Promise<void> {
    for (const child of this.processes) child.kill('SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  }
}
