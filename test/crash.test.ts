import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/config.js';
import { TenantRegistry } from '../src/tenants/registry.js';
import { createRedis } from '../src/streams/redis.js';
import { redisKeys } from '../src/streams/keys.js';
import { dropTestData, isolatedEnv, uniqueId, waitFor } from './support/env.js';
import { exitOf, listeningPort, spawnCli } from './support/child.js';
import { signedHeaders, ticketBody } from './support/webhook.js';

const env = isolatedEnv(uniqueId(), { CLAIM_IDLE_MS: '1500', RETRY_BASE_MS: '50', RETRY_MAX_MS: '500', LOG_LEVEL: 'info' });
const config = loadConfig(env);
const keys = redisKeys(config.redisPrefix);
const tenants = ['north', 'south', 'west'];
const total = 2_000;
const children = new Set<ChildProcessWithoutNullStreams>();
let db: pg.Client;

const workerOutput: string[] = [];

function start(role: string): ChildProcessWithoutNullStreams {
  const child = spawnCli(['start', '--role', role], env);
  if (role === 'worker') child.stdout.on('data', (chunk: Buffer) => workerOutput.push(chunk.toString()));
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

async function kill9(child: ChildProcessWithoutNullStreams): Promise<void> {
  child.kill('SIGKILL');
  expect((await exitOf(child)).signal).toBe('SIGKILL');
}

const count = async (sql: string) => Number((await db.query(sql)).rows[0].n);

beforeAll(async () => {
  // Services migrate on start; the test reads through its own connection.
  const registry = await TenantRegistry.connect(config);
  const secrets = new Map<string, string>();
  for (const tenant of tenants) secrets.set(tenant, (await registry.create({ id: tenant })).secret);
  await registry.close();
  Object.assign(env, { CRASH_SECRETS: JSON.stringify(Object.fromEntries(secrets)) });
  db = new pg.Client({ connectionString: config.databaseUrl, options: `-c search_path=${config.databaseSchema}` });
  await db.connect();
});

afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  await db?.end();
  await dropTestData(config);
});

describe('a worker killed with SIGKILL mid-stream', () => {
  it('still gets every accepted ticket to written_back exactly once', async () => {
    const secrets = JSON.parse(env.CRASH_SECRETS!) as Record<string, string>;
    const ingest = start('ingest');
    const port = await listeningPort(ingest);
    start('projector');
    let worker = start('worker');
    await listeningPort(worker);

    let sent = 0;
    const send = async () => {
      while (sent < total) {
        const i = sent++;
        const tenant = tenants[i % tenants.length]!;
        const body = ticketBody({ id: `K-${i}`, subject: `Crash test ${i}: VPN to 10.1.${i % 250}.7 fails`, description: `Ticket ${i} of the crash test; printer and mail ok.` });
        const response = await fetch(`http://127.0.0.1:${port}/v1/webhooks/${tenant}/tickets`, { method: 'POST', body, headers: signedHeaders(secrets[tenant]!, body, { deliveryId: `K-${i}` }) });
        expect(response.status).toBe(202);
      }
    };
    const sending = Promise.all(Array.from({ length: 16 }, send));

    const redis = createRedis(config, 'commands');
    const workerPending = async () => {
      let pending = 0;
      for (const tenant of tenants) {
        for (const group of ['context', 'enhance', 'writeback']) pending += Number(((await redis.xpending(keys.events(tenant), group)) as [number])[0]);
      }
      return pending;
    };
    for (const threshold of [300, 1_000]) {
      await waitFor(async () => (await count("SELECT count(*) AS n FROM tickets WHERE status = 'written_back'")) >= threshold, { timeoutMs: 60_000, message: `${threshold} tickets written back` });
      // Killed while it holds entries it has not acknowledged.
      await waitFor(async () => (await workerPending()) > 0, { intervalMs: 5, message: 'worker holds pending entries' });
      await kill9(worker);
      worker = start('worker');
      await listeningPort(worker);
    }
    await sending;

    await waitFor(async () => (await count("SELECT count(*) AS n FROM tickets WHERE status = 'written_back'")) === total, { timeoutMs: 120_000, intervalMs: 250, message: 'every ticket written back' });
    // Exactly once: four distinct events per ticket, applied once each, archived once each.
    expect(await count('SELECT count(*) AS n FROM tickets WHERE cardinality(event_ids) <> 4 OR version <> 4')).toBe(0);
    expect(await count('SELECT count(*) AS n FROM tickets WHERE context IS NULL OR enhancement IS NULL OR writeback IS NULL OR written_back_at IS NULL')).toBe(0);
    await waitFor(async () => (await count('SELECT count(*) AS n FROM events')) === total * 4, { timeoutMs: 60_000, message: 'every event archived' });
    expect(await count('SELECT count(*) AS n FROM (SELECT ticket_id, type FROM events GROUP BY tenant_id, ticket_id, type HAVING count(*) > 1) d')).toBe(0);

    // The restarted workers took over what the killed ones held.
    expect(workerOutput.join('')).toContain('took over idle entries');
    try {
      for (const tenant of tenants) {
        const entries = (await redis.xrange(keys.events(tenant), '-', '+')) as [string, string[]][];
        const perType = new Map<string, number>();
        for (const [, fields] of entries) {
          const type = fields[fields.indexOf('type') + 1]!;
          perType.set(type, (perType.get(type) ?? 0) + 1);
        }
        const expected = total / tenants.length;
        const ticketsOfTenant = tenants.indexOf(tenant) < total % tenants.length ? Math.ceil(expected) : Math.floor(expected);
        expect(Object.fromEntries(perType)).toEqual({
          'ticket.received': ticketsOfTenant,
          'ticket.context_gathered': ticketsOfTenant,
          'ticket.enhanced': ticketsOfTenant,
          'ticket.written_back': ticketsOfTenant,
        });
        expect(await redis.xlen(keys.dlq(tenant))).toBe(0);
        await waitFor(async () => {
          const groups = (await redis.xinfo('GROUPS', keys.events(tenant))) as unknown[][];
          return groups.every((group) => Number(group[group.indexOf('pending') + 1]) === 0);
        }, { message: `no pending entries for ${tenant}` });
      }
    } finally {
      redis.disconnect();
    }
  }, 300_000);
});
