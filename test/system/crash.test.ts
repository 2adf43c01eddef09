import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import pg from 'pg';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { ticketsProjection } from '../../src/projections/tickets.js';
import { rebuildProjection } from '../../src/replay/rebuild.js';
import { openServices, type Services } from '../../src/runtime/services.js';
import { dropTestData, isolatedEnv, uniqueId, waitFor } from '../support/env.js';
import { exitOf, listeningPort, spawnCli } from '../support/child.js';
import { signedHeaders, ticketBody } from '../support/webhook.js';

const env = isolatedEnv(uniqueId(), {
  CLAIM_IDLE_MS: '1500',
  RETRY_BASE_MS: '50',
  RETRY_MAX_MS: '500',
  LOG_LEVEL: 'info',
});
const config = loadConfig(env);
const tenants = ['north', 'south', 'east', 'west', 'centre'];
const total = 3_000;
const groups = ['context', 'enhance', 'writeback', 'projector', 'archiver'];
const children = new Set<ChildProcessWithoutNullStreams>();
let services: Services;
let db: pg.Client;
const secrets = new Map<string, string>();
const workerOutput: string[] = [];

/** The port each child listens on, watched from its start so no line of its output is missed. */
const listening = new Map<ChildProcessWithoutNullStreams, Promise<number>>();

function start(role: 'ingest' | 'worker' | 'projector'): ChildProcessWithoutNullStreams {
  const child = spawnCli(['start', '--role', role], env);
  const port = listeningPort(child, 60_000);
  port.catch(() => undefined);
  listening.set(child, port);
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
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function groupTotals(): Promise<{ pending: number; lag: number }> {
  let pending = 0;
  let lag = 0;
  for (const tenant of tenants) {
    for (const group of (await services.redis.xinfo('GROUPS', services.keys.events(tenant))) as unknown[][]) {
      pending += Number(group[group.indexOf('pending') + 1]);
      // lag is nil when Redis cannot tell; count it as work left.
      lag += group[group.indexOf('lag') + 1] === null ? 1 : Number(group[group.indexOf('lag') + 1]);
    }
  }
  return { pending, lag };
}

const snapshot = async () =>
  (await db.query('SELECT to_jsonb(t) AS row FROM tickets t ORDER BY tenant_id, ticket_id')).rows;

beforeAll(async () => {
  // Services migrate here once, before the roles start; the test reads and rebuilds through them.
  services = await openServices(config, pino({ level: 'silent' }));
  for (const tenant of tenants) secrets.set(tenant, (await services.registry.create({ id: tenant })).secret);
  db = new pg.Client({ connectionString: config.databaseUrl, options: `-c search_path=${config.databaseSchema}` });
  await db.connect();
});

afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  await db?.end();
  await services?.close();
  await dropTestData(config);
});

describe('3 projectors and 3 workers, projectors SIGKILLed and their Postgres connections terminated', () => {
  it('projects every accepted ticket exactly once, each row equal to its rebuild, nothing pending, no dead letter', async () => {
    const ingest = start('ingest');
    const workers = [start('worker'), start('worker'), start('worker')];
    const projectors = [start('projector'), start('projector'), start('projector')];
    const port = await listening.get(ingest)!;
    await Promise.all([...workers, ...projectors].map((child) => listening.get(child)!));

    let sent = 0;
    const send = async () => {
      while (sent < total) {
        const i = sent++;
        const tenant = tenants[i % tenants.length]!;
        const body = ticketBody({
          id: `K-${i}`,
          subject: `Crash test ${i}: VPN to 10.1.${i % 250}.7 fails`,
          description: `Ticket ${i} of the crash test; printer and mail ok.`,
        });
        const response = await fetch(`http://127.0.0.1:${port}/v1/webhooks/${tenant}/tickets`, {
          method: 'POST',
          body,
          headers: signedHeaders(secrets.get(tenant)!, body, { deliveryId: `K-${i}` }),
        });
        expect(response.status).toBe(202);
      }
    };
    let sendingFinished = false;
    const sending = Promise.all(Array.from({ length: 12 }, send)).finally(() => (sendingFinished = true));

    // Projectors SIGKILLed at random and restarted while webhooks flow.
    let projectorKills = 0;
    const killingProjectors = (async () => {
      while (projectorKills < 5 && (projectorKills < 4 || !sendingFinished)) {
        await sleep(1_000 + Math.random() * 1_500);
        const victim = Math.floor(Math.random() * projectors.length);
        await kill9(projectors[victim]!);
        projectorKills += 1;
        projectors[victim] = start('projector');
        await listening.get(projectors[victim]!);
      }
    })();

    // The projectors' connections terminated in a loop for a few seconds: only this test's backends
    // (its schema is in application_name) that run the projections' transactions.
    const killer = new pg.Client({ connectionString: config.databaseUrl });
    await killer.connect();
    let terminated = 0;
    const terminating = (async () => {
      await waitFor(
        async () => (await count("SELECT count(*) AS n FROM tickets WHERE status = 'written_back'")) >= 200,
        { timeoutMs: 60_000, message: 'pipeline under way' },
      );
      const until = Date.now() + 4_000;
      while (Date.now() < until) {
        const { rowCount } = await killer.query(
          `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
            WHERE application_name = $1 AND pid <> pg_backend_pid()
              AND query ~ '^(BEGIN|COMMIT|ROLLBACK)|INSERT INTO (tickets|events|projection_checkpoints)'`,
          [`streamdesk:${config.databaseSchema}`],
        );
        terminated += rowCount ?? 0;
        await sleep(50);
      }
    })();

    // One worker killed while it holds entries it has not acknowledged: the others take them over.
    await waitFor(async () => (await count("SELECT count(*) AS n FROM tickets WHERE status = 'written_back'")) >= 600, {
      timeoutMs: 60_000,
      message: '600 tickets written back',
    });
    const holder = await waitFor(
      async () => {
        for (const tenant of tenants) {
          for (const group of ['context', 'enhance', 'writeback']) {
            const [, , , consumers] = (await services.redis.xpending(services.keys.events(tenant), group)) as [
              number,
              string | null,
              string | null,
              [string, string][] | null,
            ];
            for (const [consumer, held] of consumers ?? []) {
              // Consumer names carry the process id.
              const index = workers.findIndex((worker) => consumer.includes(`-${worker.pid}-`));
              if (index >= 0 && Number(held) > 0) return { index };
            }
          }
        }
        return undefined;
      },
      { intervalMs: 5, message: 'a worker holds pending entries' },
    );
    await kill9(workers[holder.index]!);
    workers[holder.index] = start('worker');

    await sending;
    await Promise.all([killingProjectors, terminating]);
    await killer.end();
    expect(projectorKills).toBeGreaterThanOrEqual(4);
    expect(terminated).toBeGreaterThan(0);

    await waitFor(
      async () => (await count("SELECT count(*) AS n FROM tickets WHERE status = 'written_back'")) === total,
      { timeoutMs: 90_000, intervalMs: 250, message: 'every ticket written back' },
    );
    await waitFor(
      async () => {
        const { pending, lag } = await groupTotals();
        return pending === 0 && lag === 0;
      },
      { timeoutMs: 30_000, intervalMs: 250, message: 'every group caught up, nothing pending' },
    );

    // Exactly once: four distinct events per ticket, applied once each, archived once each.
    expect(await count('SELECT count(*) AS n FROM tickets WHERE cardinality(event_ids) <> 4 OR version <> 4')).toBe(0);
    expect(
      await count(
        'SELECT count(*) AS n FROM tickets WHERE subject IS NULL OR context IS NULL OR enhancement IS NULL OR writeback IS NULL OR received_at IS NULL OR written_back_at IS NULL OR failure IS NOT NULL',
      ),
    ).toBe(0);
    expect(await count('SELECT count(*) AS n FROM events')).toBe(total * 4);
    expect(
      await count(
        'SELECT count(*) AS n FROM (SELECT 1 FROM events GROUP BY tenant_id, ticket_id, type HAVING count(*) > 1) d',
      ),
    ).toBe(0);
    for (const tenant of tenants) {
      const perType = new Map<string, number>();
      for (const [, fields] of (await services.redis.xrange(services.keys.events(tenant), '-', '+')) as [
        string,
        string[],
      ][]) {
        const type = fields[fields.indexOf('type') + 1]!;
        perType.set(type, (perType.get(type) ?? 0) + 1);
      }
      const perTenant = total / tenants.length;
      expect(Object.fromEntries(perType)).toEqual({
        'ticket.received': perTenant,
        'ticket.context_gathered': perTenant,
        'ticket.enhanced': perTenant,
        'ticket.written_back': perTenant,
      });
      expect(await services.redis.xlen(services.keys.dlq(tenant))).toBe(0);
      const groupNames = ((await services.redis.xinfo('GROUPS', services.keys.events(tenant))) as unknown[][]).map(
        (group) => group[group.indexOf('name') + 1],
      );
      expect([...groupNames].sort()).toEqual([...groups].sort());
    }
    // The surviving workers took over what the killed one held.
    expect(workerOutput.join('')).toContain('took over idle entries');

    // Every row equals what a rebuild from history gives, column by column.
    const live = await snapshot();
    expect(live).toHaveLength(total);
    await rebuildProjection({ ...services, projection: ticketsProjection, schema: config.databaseSchema, tenants });
    expect(await snapshot()).toEqual(live);
  }, 180_000);
});
