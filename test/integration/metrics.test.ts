import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stageProcessor, type Stage } from '../../src/consumers/stage.js';
import { StreamdeskError } from '../../src/errors.js';
import { startRole, type RunningRole } from '../../src/runtime/roles.js';
import { StreamRunner } from '../../src/streams/runner.js';
import type { TenantStatus } from '../../src/streams/status.js';
import { createMetrics } from '../../src/telemetry/metrics.js';
import { createTestEnv, waitFor, type TestEnv } from '../support/env.js';
import { signedHeaders, ticketBody } from '../support/webhook.js';

type Sample = { name: string; labels: Record<string, string>; value: number };

/** Parses the Prometheus text format into samples. */
function parseMetrics(text: string): Sample[] {
  return text
    .split('\n')
    .filter((line) => line && !line.startsWith('#'))
    .map((line) => {
      const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
      if (!match) throw new Error(`not a sample: ${line}`);
      const labels = Object.fromEntries(
        [...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map(([, key, value]) => [key!, value!]),
      );
      return { name: match[1]!, labels, value: Number(match[3]) };
    });
}

/** The value of the one sample of `name` whose labels include `labels` (undefined when none). */
function valueOf(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const found = samples.filter(
    (sample) => sample.name === name && Object.entries(labels).every(([key, value]) => sample.labels[key] === value),
  );
  if (found.length > 1) throw new Error(`${found.length} samples of ${name} match ${JSON.stringify(labels)}`);
  return found[0]?.value;
}

describe('/metrics after a known workload', () => {
  let t: TestEnv;
  let running: RunningRole;
  let gate: StreamRunner;
  const secrets = new Map<string, string>();
  const tenants = ['north', 'south'];
  const perTenant = 6;
  /** Tickets the gate stage rejects for good: dead-lettered at once. */
  const rejected = ['BAD-1', 'BAD-2'];

  beforeAll(async () => {
    t = await createTestEnv();
    for (const id of tenants) secrets.set(id, (await t.services.registry.create({ id })).secret);
    running = await startRole('all', t.services, {
      listen: false,
      runnerOverrides: { blockMs: 100, tenantRefreshMs: 100 },
    });
    // A stage beside the pipeline's that refuses some tickets, so the workload has dead letters.
    const gateStage: Stage<'ticket.received'> = {
      name: 'gate',
      handles: ['ticket.received'],
      async handle(event) {
        if (rejected.includes(event.ticket))
          throw new StreamdeskError('LLM_REJECTED', `ticket ${event.ticket} is refused`);
        return [];
      },
    };
    const { services } = t;
    gate = new StreamRunner({
      redis: services.redis,
      blockingRedis: services.blockingRedis(),
      keys: services.keys,
      processor: stageProcessor(gateStage, services.logger),
      retry: t.config.retry,
      emittedTtlSeconds: 3_600,
      logger: services.logger,
      observer: services.metrics,
      blockMs: 100,
      tenantRefreshMs: 100,
    });
    await gate.start();
  });

  afterAll(async () => {
    await gate?.stop(2_000);
    await running?.stop();
    await t?.cleanup();
  });

  const send = (tenant: string, id: string, deliveryId?: string) => {
    const body = ticketBody({ id, subject: `Subject ${id}`, description: `Description of ${id}` });
    return running.app.inject({
      method: 'POST',
      url: `/v1/webhooks/${tenant}/tickets`,
      payload: body,
      headers: signedHeaders(secrets.get(tenant)!, body, deliveryId ? { deliveryId } : {}),
    });
  };
  const scrape = async () => {
    const response = await running.app.inject({ method: 'GET', url: '/metrics' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toContain('text/plain');
    return parseMetrics(response.body);
  };

  it("counts webhooks, processed and dead-lettered events, ticket latencies, and shows every group's lag and pending entries", async () => {
    const { services } = t;
    for (const tenant of tenants) {
      for (let i = 0; i < perTenant; i++) expect((await send(tenant, `T-${i}`, `${tenant}-${i}`)).statusCode).toBe(202);
    }
    for (const id of rejected) expect((await send('north', id)).statusCode).toBe(202);
    // A repeated delivery is accepted and counted apart; it appends nothing.
    expect((await send('north', 'T-0', 'north-0')).json()).toMatchObject({ duplicate: true });

    const streamLength = (tenant: string) => services.redis.xlen(services.keys.events(tenant));
    const written = (tenant: string) =>
      services.db.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM tickets WHERE tenant_id = $1 AND written_back_at IS NOT NULL',
        [tenant],
      );
    const northTickets = perTenant + rejected.length;
    await waitFor(
      async () => {
        // Every ticket written back and failed where refused, and every event applied by the projector.
        if ((await written('north')).rows[0]!.n !== northTickets || (await written('south')).rows[0]!.n !== perTenant)
          return false;
        // The refusals are announced; the row shows no failure once a later step succeeded.
        const { rows } = await services.db.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM events WHERE tenant_id = 'north' AND type = 'ticket.failed'",
        );
        if (rows[0]!.n !== rejected.length) return false;
        const groups = (await services.redis.xinfo('GROUPS', services.keys.events('north'))) as unknown[][];
        return groups.every(
          (group) => group[group.indexOf('lag') + 1] === 0 && group[group.indexOf('pending') + 1] === 0,
        );
      },
      { message: 'workload processed', timeoutMs: 30_000 },
    );
    // received, context_gathered, enhanced, written_back per ticket; ticket.failed per refused ticket.
    expect(await streamLength('north')).toBe(northTickets * 4 + rejected.length);
    expect(await streamLength('south')).toBe(perTenant * 4);

    // Two groups that make the gauges move: one that never read anything, one stuck on an entry.
    const northStream = services.keys.events('north');
    await services.redis.xgroup('CREATE', northStream, 'observer', '0');
    await services.redis.xgroup('CREATE', northStream, 'stuck', '0');
    await services.redis.xreadgroup('GROUP', 'stuck', 'dead-consumer', 'COUNT', 1, 'STREAMS', northStream, '>');

    const samples = await waitFor(
      async () => {
        const scraped = await scrape();
        // The projector's counter moves once its settle has run; the table can be ahead of it by a moment.
        return valueOf(scraped, 'streamdesk_events_processed_total', { group: 'projector', tenant: 'north' }) ===
          northTickets * 4 + rejected.length
          ? scraped
          : undefined;
      },
      { message: 'projector counter caught up' },
    );

    expect(valueOf(samples, 'streamdesk_webhooks_accepted_total', { tenant: 'north', duplicate: 'false' })).toBe(
      northTickets,
    );
    expect(valueOf(samples, 'streamdesk_webhooks_accepted_total', { tenant: 'north', duplicate: 'true' })).toBe(1);
    expect(valueOf(samples, 'streamdesk_webhooks_accepted_total', { tenant: 'south', duplicate: 'false' })).toBe(
      perTenant,
    );
    expect(valueOf(samples, 'streamdesk_events_processed_total', { group: 'projector', tenant: 'south' })).toBe(
      perTenant * 4,
    );
    expect(valueOf(samples, 'streamdesk_events_processed_total', { group: 'archiver', tenant: 'south' })).toBe(
      perTenant * 4,
    );
    expect(valueOf(samples, 'streamdesk_events_processed_total', { group: 'context', tenant: 'north' })).toBe(
      northTickets,
    );
    expect(
      valueOf(samples, 'streamdesk_events_dead_lettered_total', {
        group: 'gate',
        tenant: 'north',
        code: 'LLM_REJECTED',
      }),
    ).toBe(rejected.length);
    expect(
      valueOf(samples, 'streamdesk_events_dead_lettered_total', { group: 'gate', tenant: 'south' }),
    ).toBeUndefined();
    expect(
      valueOf(samples, 'streamdesk_events_failed_total', { group: 'gate', tenant: 'north', code: 'LLM_REJECTED' }),
    ).toBe(rejected.length);
    // One latency per ticket written back, observed when the projector applied ticket.written_back.
    expect(valueOf(samples, 'streamdesk_ticket_latency_seconds_count', { tenant: 'north' })).toBe(northTickets);
    expect(valueOf(samples, 'streamdesk_ticket_latency_seconds_count', { tenant: 'south' })).toBe(perTenant);
    expect(valueOf(samples, 'streamdesk_ticket_latency_seconds_sum', { tenant: 'south' })).toBeGreaterThan(0);

    // Group gauges, read from Redis at scrape time.
    const length = await streamLength('north');
    expect(valueOf(samples, 'streamdesk_group_lag', { group: 'observer', tenant: 'north' })).toBe(length);
    expect(valueOf(samples, 'streamdesk_group_pending', { group: 'observer', tenant: 'north' })).toBe(0);
    expect(valueOf(samples, 'streamdesk_group_lag', { group: 'stuck', tenant: 'north' })).toBe(length - 1);
    expect(valueOf(samples, 'streamdesk_group_pending', { group: 'stuck', tenant: 'north' })).toBe(1);
    expect(
      valueOf(samples, 'streamdesk_group_oldest_pending_age_seconds', { group: 'stuck', tenant: 'north' }),
    ).toBeGreaterThan(0);
    for (const group of ['context', 'enhance', 'writeback', 'projector', 'archiver', 'gate']) {
      for (const tenant of tenants) {
        expect(valueOf(samples, 'streamdesk_group_lag', { group, tenant }), `${group} lag on ${tenant}`).toBe(0);
        expect(valueOf(samples, 'streamdesk_group_pending', { group, tenant }), `${group} pending on ${tenant}`).toBe(
          0,
        );
      }
    }
    expect(valueOf(samples, 'streamdesk_group_status_errors_total')).toBe(0);
  });
});

describe('group gauges', () => {
  const status = (
    tenant: string,
    groups: [name: string, lag: number | null, pending: number, oldestMs: number | null][],
  ): TenantStatus => ({
    tenant,
    streamLength: 100,
    lanes: { normal: 100, priority: 0 },
    dlqLength: 0,
    groups: groups.map(([name, lag, pending, oldestPendingAgeMs]) => ({
      name,
      lag,
      pending,
      oldestPendingAgeMs,
      consumers: 1,
    })),
  });
  const gauges = async (metrics: ReturnType<typeof createMetrics>) =>
    parseMetrics(await metrics.render()).filter((sample) => sample.name.startsWith('streamdesk_group_'));

  it('collapse into tenant="*" without the tenant label: lag and pending add up, the oldest age is the maximum', async () => {
    const metrics = createMetrics({ tenantLabel: false, defaultMetrics: false });
    metrics.collectGroupStatus(async () => [
      status('a', [['projector', 3, 1, 2_000]]),
      status('b', [
        ['projector', 4, 2, 5_000],
        ['context', null, 0, null],
      ]),
    ]);
    const samples = await gauges(metrics);
    expect(valueOf(samples, 'streamdesk_group_lag', { group: 'projector', tenant: '*' })).toBe(7);
    expect(valueOf(samples, 'streamdesk_group_pending', { group: 'projector', tenant: '*' })).toBe(3);
    expect(valueOf(samples, 'streamdesk_group_oldest_pending_age_seconds', { group: 'projector', tenant: '*' })).toBe(
      5,
    );
    expect(valueOf(samples, 'streamdesk_group_lag', { group: 'context', tenant: '*' })).toBe(0);
    expect(samples.every((sample) => sample.labels.tenant === undefined || sample.labels.tenant === '*')).toBe(true);
  });

  it('keep their last values and count an error when the status read fails or outlasts its time budget', async () => {
    const metrics = createMetrics({ tenantLabel: true, defaultMetrics: false });
    let answer: () => Promise<TenantStatus[]> = async () => [status('a', [['projector', 5, 0, null]])];
    metrics.collectGroupStatus(() => answer(), { timeoutMs: 100, minIntervalMs: 0 });
    expect(valueOf(await gauges(metrics), 'streamdesk_group_lag', { group: 'projector', tenant: 'a' })).toBe(5);

    answer = () => new Promise((resolve) => setTimeout(() => resolve([status('a', [['projector', 9, 0, null]])]), 300));
    const started = performance.now();
    const slow = await gauges(metrics);
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(valueOf(slow, 'streamdesk_group_lag', { group: 'projector', tenant: 'a' })).toBe(5);
    expect(valueOf(slow, 'streamdesk_group_status_errors_total')).toBe(1);

    answer = () => Promise.reject(new Error('Redis is down'));
    const failed = await gauges(metrics);
    expect(valueOf(failed, 'streamdesk_group_lag', { group: 'projector', tenant: 'a' })).toBe(5);
    expect(valueOf(failed, 'streamdesk_group_status_errors_total')).toBe(2);
  });
});
