import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { startRole, type RunningRole } from '../../src/runtime/roles.js';
import { openServices, type Services } from '../../src/runtime/services.js';
import { hashSlot } from '../../src/streams/keys.js';
import { isolatedEnv, uniqueId, waitFor } from '../support/env.js';
import { OwnRedisCluster } from '../support/redis-cluster.js';
import { signedHeaders, ticketBody } from '../support/webhook.js';
import { pino } from 'pino';

const cluster = new OwnRedisCluster();
let services: Services;
let running: RunningRole;
const env = isolatedEnv(uniqueId());
// Tenants whose keys hash to slots owned by different primaries (0–5460, 5461–10922, 10923–16383).
const tenants = ['t-a', 't-b', 't-c', 't-d', 't-e', 't-f'];

beforeAll(async () => {
  await cluster.start();
  const config = loadConfig({ ...env, REDIS_CLUSTER_NODES: cluster.nodes });
  services = await openServices(config, pino({ level: 'silent' }));
  running = await startRole('all', services, {
    listen: false,
    runnerOverrides: { blockMs: 100, tenantRefreshMs: 100 },
  });
}, 60_000);

afterAll(async () => {
  await running?.stop();
  await services?.close();
  await cluster.stop();
  const client = new pg.Client({ connectionString: env.DATABASE_URL });
  await client.connect();
  await client.query(`DROP SCHEMA IF EXISTS ${env.DATABASE_SCHEMA} CASCADE`);
  await client.end();
});

describe('on Redis Cluster', () => {
  it('ingests, processes and projects tickets of tenants spread over every primary', async () => {
    const nodesUsed = new Set(tenants.map((tenant) => Math.floor(hashSlot(services.keys.events(tenant)) / 5462)));
    expect(nodesUsed.size).toBe(3);
    const secrets = new Map<string, string>();
    for (const tenant of tenants) secrets.set(tenant, (await services.registry.create({ id: tenant })).secret);
    for (const tenant of tenants) {
      for (let i = 0; i < 10; i++) {
        const body = ticketBody({
          id: `${tenant}-${i}`,
          subject: `Cluster ticket ${i}`,
          description: 'VPN to 10.0.0.1 drops',
        });
        const response = await running.app.inject({
          method: 'POST',
          url: `/v1/webhooks/${tenant}/tickets`,
          payload: body,
          headers: signedHeaders(secrets.get(tenant)!, body),
        });
        expect(response.statusCode).toBe(202);
      }
    }
    await waitFor(
      async () =>
        (await services.db.query("SELECT count(*)::int AS n FROM tickets WHERE status = 'written_back'")).rows[0].n ===
        60,
      { timeoutMs: 30_000, message: 'every ticket written back' },
    );
    const duplicate = ticketBody({ id: 't-a-0', subject: 'Cluster ticket 0', description: 'VPN to 10.0.0.1 drops' });
    const again = await running.app.inject({
      method: 'POST',
      url: '/v1/webhooks/t-a/tickets',
      payload: duplicate,
      headers: signedHeaders(secrets.get('t-a')!, duplicate),
    });
    expect(again.json().duplicate).toBe(true);
  }, 60_000);
});
