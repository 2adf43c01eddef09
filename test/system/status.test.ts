import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { encodeEvent } from '../../src/events.js';
import { buildApp } from '../../src/ingest/app.js';
import { redisKeys } from '../../src/streams/keys.js';
import { createRedis } from '../../src/streams/redis.js';
import { toRecord } from '../../src/streams/reply.js';
import { tenantStatus, type TenantStatus } from '../../src/streams/status.js';
import { runCli } from '../support/child.js';
import { createTestEnv, dropTestData, isolatedEnv, uniqueId, waitFor } from '../support/env.js';
import { receivedEvent } from '../support/events.js';
import { OwnRedisServer, freePort } from '../support/redis-server.js';
import { signedHeaders, ticketBody } from '../support/webhook.js';

describe('backpressure across a Redis restart', () => {
  it('counts the backlog itself: 429 over the limit and 202 under it after an AOF reload, whatever XINFO says', async () => {
    const server = new OwnRedisServer(await freePort());
    await server.start();
    const env = await createTestEnv({ REDIS_URL: server.url, TENANT_BACKLOG_LIMIT: '30' });
    try {
      const { services } = env;
      const { redis, keys } = services;
      const secrets = new Map<string, string>();
      for (const tenant of ['caught-up', 'behind'])
        secrets.set(tenant, (await services.registry.create({ id: tenant })).secret);
      /** A projector that reads and acknowledges `count` entries. */
      const consume = async (tenant: string, count: number) => {
        const reply = (await redis.xreadgroup(
          'GROUP',
          'projector',
          'p1',
          'COUNT',
          count,
          'STREAMS',
          keys.events(tenant),
          '>',
        )) as [string, [string, string[]][]][];
        await redis.xack(keys.events(tenant), 'projector', ...reply[0]![1].map(([id]) => id));
      };
      const appendMany = async (tenant: string, count: number) => {
        for (let i = 0; i < count; i++)
          await redis.xadd(keys.events(tenant), '*', ...encodeEvent(receivedEvent(tenant, `${tenant}-${i}`)));
      };
      for (const tenant of ['caught-up', 'behind'])
        await redis.xgroup('CREATE', keys.events(tenant), 'projector', '0', 'MKSTREAM');

      // caught-up: 60 events, 20 read before an AOF rewrite, 25 after: 15 left, under the limit.
      await appendMany('caught-up', 60);
      await consume('caught-up', 20);
      await redis.bgrewriteaof();
      await waitFor(
        async () =>
          /aof_rewrite_in_progress:0/.test(await redis.info('persistence')) &&
          /aof_rewrite_scheduled:0/.test(await redis.info('persistence')),
        { message: 'AOF rewritten' },
      );
      await consume('caught-up', 25);
      // behind: 60 events, 10 read: 50 left, over the limit.
      await appendMany('behind', 60);
      await consume('behind', 10);

      await server.kill();
      await server.start();
      await waitFor(() => services.ingestRedis.status === 'ready' && services.redis.status === 'ready', {
        message: 'clients reconnected',
      });
      await waitFor(async () => (await services.registry.get('behind')) !== undefined, {
        message: 'registry reconnected',
      });

      // What Redis itself reports after the reload is not the backlog (nil, or stale and too large).
      const reportedLag = async (tenant: string) =>
        toRecord(((await redis.xinfo('GROUPS', keys.events(tenant))) as unknown[][])[0]!).lag;
      expect(await reportedLag('behind')).not.toBe(50);
      expect(await reportedLag('caught-up')).not.toBe(15);
      const lagOf = async (tenant: string) => (await tenantStatus(redis, keys, tenant)).groups[0]!.lag;
      expect(await lagOf('behind')).toBe(50);
      expect(await lagOf('caught-up')).toBe(15);

      const app = await buildApp(env.config, {
        logger: services.logger,
        redis: services.ingestRedis,
        keys,
        db: services.db,
        metrics: services.metrics,
        registry: services.registry,
      });
      try {
        const post = async (tenant: string) => {
          const body = ticketBody({ id: `${tenant}-new`, subject: 'After the restart', description: 'x' });
          return app.inject({
            method: 'POST',
            url: `/v1/webhooks/${tenant}/tickets`,
            payload: body,
            headers: signedHeaders(secrets.get(tenant)!, body),
          });
        };
        const refused = await post('behind');
        expect(refused.statusCode).toBe(429);
        expect(refused.json().error.code).toBe('BACKLOG_FULL');
        expect(await redis.xlen(keys.events('behind'))).toBe(60);
        expect((await post('caught-up')).statusCode).toBe(202);
      } finally {
        await app.close();
      }
    } finally {
      await env.cleanup();
      await server.stopAndRemove();
    }
  });
});

describe('streamdesk status', () => {
  const env = isolatedEnv(uniqueId());
  const config = loadConfig(env);
  afterAll(async () => {
    await dropTestData(config);
  });

  it('answers from Redis alone for 100 tenants while Postgres is down, and tells stalled and dead consumers from live ones', async () => {
    const redis = createRedis(config, 'commands');
    const keys = redisKeys(config.redisPrefix);
    const tenants = Array.from({ length: 100 }, (_, i) => `t-${String(i).padStart(3, '0')}`);
    let beating: NodeJS.Timeout | undefined;
    try {
      for (const tenant of tenants) {
        const pipeline = redis.pipeline().sadd(keys.tenantIds, tenant);
        for (let i = 0; i < 5; i++)
          pipeline.xadd(keys.events(tenant), '*', ...encodeEvent(receivedEvent(tenant, `T-${i}`)));
        pipeline.xgroup('CREATE', keys.events(tenant), 'context', '0');
        await pipeline.exec();
      }
      const first = keys.events('t-000');
      const read = (consumer: string, count: number) =>
        redis.xreadgroup('GROUP', 'context', consumer, 'COUNT', count, 'STREAMS', first, '>') as Promise<
          [string, [string, string[]][]][]
        >;
      await read('frozen-worker', 2); // holds two entries and never comes back
      for (const consumer of ['quiet-worker', 'gone-worker']) {
        const [[, entries] = ['', []]] = await read(consumer, 1);
        await redis.xack(first, 'context', entries[0]![0]);
      }
      // quiet-worker's process is alive (its runner heartbeats) though Redis has not seen it read lately.
      const beat = () => void redis.zadd(keys.consumersSeen, Date.now(), 'quiet-worker');
      beat();
      beating = setInterval(beat, 100);
      await waitFor(
        async () => {
          const consumers = ((await redis.xinfo('CONSUMERS', first, 'context')) as unknown[][]).map((raw) =>
            toRecord(raw),
          );
          return consumers.length === 3 && consumers.every((consumer) => Number(consumer.idle) > 1_000);
        },
        { message: 'every consumer idle past the claim timeout' },
      );

      const unreachablePostgres = `postgres://postgres@127.0.0.1:${await freePort()}/streamdesk`;
      const cliEnv = { ...env, DATABASE_URL: unreachablePostgres, CLAIM_IDLE_MS: '1000' };
      const result = await runCli(['status', '--json'], cliEnv);
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      const { tenants: statuses } = JSON.parse(result.stdout) as { tenants: TenantStatus[] };
      expect(statuses.map((status) => status.tenant)).toEqual(tenants);
      for (const status of statuses.slice(1)) {
        expect(status).toMatchObject({
          streamLength: 5,
          dlqLength: 0,
          groups: [{ name: 'context', lag: 5, pending: 0, consumers: 0, consumerStates: [] }],
        });
      }
      const [group] = statuses[0]!.groups;
      expect(group).toMatchObject({ name: 'context', lag: 1, pending: 2, consumers: 3 });
      const states = Object.fromEntries(
        group!.consumerStates!.map((consumer) => [consumer.name, { state: consumer.state, pending: consumer.pending }]),
      );
      expect(states).toEqual({
        'frozen-worker': { state: 'stalled', pending: 2 },
        'quiet-worker': { state: 'live', pending: 0 },
        'gone-worker': { state: 'dead', pending: 0 },
      });

      const text = await runCli(['status'], cliEnv);
      expect(text.code).toBe(0);
      expect(text.stdout).toContain('t-000: 5 events, 0 dead letters');
      expect(text.stdout).toMatch(/context +lag=1 pending=2 oldest=\d+s consumers: 1 live, 1 stalled, 1 dead/);
      expect(text.stdout).toMatch(/stalled frozen-worker silent \d+s, 2 pending/);
      expect(text.stdout.match(/^t-\d{3}: /gm)).toHaveLength(100);
    } finally {
      clearInterval(beating);
      redis.disconnect();
    }
  });
});
