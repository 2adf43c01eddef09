import { execFileSync } from 'node:child_process';
import os from 'node:os';
import { Redis } from 'ioredis';
import pg from 'pg';

export type Machine = {
  os: string;
  kernel: string;
  cpuModel: string;
  cpus: number;
  totalMemoryGiB: number;
  loadAverage1m: number;
  node: string;
  redis: string;
  postgres: string;
};

function infoField(info: string, field: string): string {
  return info.match(new RegExp(`^${field}:(.*)$`, 'm'))?.[1]?.trim() ?? 'unknown';
}

async function redisInfo(redisUrl: string): Promise<string> {
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    return await redis.info('server');
  } finally {
    redis.disconnect();
  }
}

async function postgresVersion(databaseUrl: string): Promise<string> {
  const url = new URL(databaseUrl);
  url.pathname = '/postgres';
  const client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  try {
    return (await client.query<{ version: string }>('SELECT version()')).rows[0]?.version ?? 'unknown';
  } finally {
    await client.end();
  }
}

export async function describeMachine(target: { redisUrl: string; databaseUrl: string }): Promise<Machine> {
  const [info, postgres] = await Promise.all([redisInfo(target.redisUrl), postgresVersion(target.databaseUrl)]);
  const cpus = os.cpus();
  return {
    os: `${os.type()} ${os.release()} (${os.platform()}/${os.arch()})`,
    kernel: os.version(),
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    cpus: cpus.length,
    totalMemoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    loadAverage1m: Math.round(os.loadavg()[0]! * 100) / 100,
    node: process.version,
    redis: `${infoField(info, 'redis_version')} (${infoField(info, 'redis_mode')}, ${infoField(info, 'multiplexing_api')})`,
    postgres,
  };
}

/** The commit measured, with "+dirty" when the work tree differs from it. */
export function gitCommit(cwd: string): string {
  try {
    const commit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd, encoding: 'utf8' }).trim();
    const dirty =
      execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd, encoding: 'utf8' }).trim() !== '';
    return dirty ? `${commit}+dirty` : commit;
  } catch {
    return 'unknown';
  }
}
