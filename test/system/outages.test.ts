import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { startRole, type RunningRole } from '../../src/runtime/roles.js';
import { createTestEnv, testDatabaseUrl, waitFor, type TestEnv } from '../support/env.js';
import { appendEvent, receivedEvent } from '../support/events.js';
import { OwnRedisServer, freePort } from '../support/redis-server.js';
import { signedHeaders, ticketBody } from '../support/webhook.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function env(extra: Record<string, string> = {}): Promise<TestEnv> {
  const t = await createTestEnv(extra);
  cleanups.push(() => t.cleanup());
  return t;
}

async function start(role: Parameters<typeof startRole>[0], t: TestEnv): Promise<RunningRole> {
  const running = await startRole(role, t.services, {
    listen: false,
    runnerOverrides: { blockMs: 100, tenantRefreshMs: 100 },
  });
  cleanups.push(() => running.stop());
  return running;
}

describe('Postgres connections killed during projection', () => {
  it('loses nothing and applies nothing twice', async () => {
    const t = await env({ RETRY_BASE_MS: '20', RETRY_MAX_MS: '200' });
    await t.services.registry.create({ id: 'acme' });
    await start('projector', t);
    const killer = new pg.Client({ connectionString: testDatabaseUrl });
    await killer.connect();
    cleanups.push(() => killer.end());
    let killed = 0;
    let appending = true;
    const killing = (async () => {
      while (appending) {
        const { rowCount } = await killer.query(
          'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid()',
          [`streamdesk:${t.config.databaseSchema}`],
        );
        killed += rowCount ?? 0;
        await new Promise((resolve) => setTimeout(resolve, 30));
      }
    })();
    for (let i = 0; i < 500; i++) {
      await appendEvent(t.services, receivedEvent('acme', `T-${i}`));
      if (i % 50 === 0) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    appending = false;
    await killing;
    expect(killed).toBeGreaterThan(0);
    await waitFor(async () => (await t.services.db.query('SELECT count(*)::int AS n FROM tickets')).rows[0].n === 500, {
      timeoutMs: 30_000,
      message: 'all tickets projected',
    });
    await waitFor(async () => (await t.services.db.query('SELECT count(*)::int AS n FROM events')).rows[0].n === 500, {
      timeoutMs: 30_000,
      message: 'all events archived',
    });
    const { rows } = await t.services.db.query('SELECT count(*)::int AS n FROM tickets WHERE version <> 1');
    expect(rows[0].n).toBe(0);
    const dlq = await t.services.redis.xlen(t.services.keys.dlq('acme'));
    expect(dlq).toBe(0);
  });
});

describe('Redis killed during ingest (appendfsync always)', () => {
  it('keeps every webhook that got a 202 and answers 503 while Redis is down', async () => {
    const server = new OwnRedisServer(await freePort());
    await server.start();
    cleanups.push(() => server.stopAndRemove());
    // A read whose reply was on the wire when Redis died leaves its entries delivered but never received: they
    // are taken over after the claim timeout (30 s by default). A short one keeps that within this test's wait.
    const t = await env({ REDIS_URL: server.url, CLAIM_IDLE_MS: '2000' });
    const { secret } = await t.services.registry.create({ id: 'acme' });
    const ingest = await start('ingest', t);
    // Consumers run through the outage and must carry on once Redis is back.
    await start('projector', t);

    const accepted = new Map<string, string>();
    const statuses: number[] = [];
    let sent = 0;
    const sendOne = async () => {
      const id = `T-${sent++}`;
      const body = ticketBody({ id, subject: `Subject ${id}`, description: 'Outage test' });
      const response = await ingest.app.inject({
        method: 'POST',
        url: '/v1/webhooks/acme/tickets',
        payload: body,
        headers: signedHeaders(secret, body, { deliveryId: id }),
      });
      statuses.push(response.statusCode);
      if (response.statusCode === 202) accepted.set(id, response.json().eventId);
      else {
        expect(response.statusCode).toBe(503);
        expect(response.headers['retry-after']).toBeDefined();
        expect(response.json().error.code).toBe('REDIS_UNAVAILABLE');
      }
      return response.statusCode;
    };
    for (let i = 0; i < 100; i++) await sendOne();
    await server.kill();
    // While Redis is down, nothing is accepted.
    let refused = 0;
    for (let i = 0; i < 20; i++) if ((await sendOne()) === 503) refused += 1;
    expect(refused).toBe(20);
    await server.start();
    await waitFor(async () => (await sendOne()) === 202, {
      timeoutMs: 15_000,
      message: 'ingest recovers after Redis restarts',
    });
    for (let i = 0; i < 50; i++) await sendOne();
    expect(statuses.filter((status) => status !== 202 && status !== 503)).toEqual([]);

    const entries = (await t.services.redis.xrange(t.services.keys.events('acme'), '-', '+')) as [string, string[]][];
    const storedIds = new Set(entries.map(([, fields]) => fields[fields.indexOf('id') + 1]));
    const lost = [...accepted.values()].filter((eventId) => !storedIds.has(eventId));
    expect(lost).toEqual([]);
    expect(entries.length).toBe(accepted.size);

    const projected = async () => (await t.services.db.query('SELECT count(*)::int AS n FROM tickets')).rows[0].n;
    await waitFor(async () => (await projected()) === accepted.size, {
      timeoutMs: 30_000,
      message: `accepted tickets projected (${accepted.size} accepted)`,
    });
  });
});
