import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ticketsProjection } from '../../src/projections/tickets.js';
import { rebuildProjection } from '../../src/replay/rebuild.js';
import { readHistory } from '../../src/replay/history.js';
import { startRole, type RunningRole } from '../../src/runtime/roles.js';
import { deadLetterFields, listDeadLetters, redriveDeadLetters } from '../../src/streams/dlq.js';
import { compareStreamIds } from '../../src/streams/ids.js';
import { laneCounts } from '../../src/streams/lanes.js';
import { GroupReader } from '../../src/streams/reader.js';
import { trimTenantStream } from '../../src/streams/retention.js';
import { backlogOf, tenantStatus } from '../../src/streams/status.js';
import { createTestEnv, waitFor, type TestEnv } from '../support/env.js';
import { signedHeaders, ticketBody } from '../support/webhook.js';

const tenant = 'acme';
const backlog = 2_000;
const urgent = 10;
let t: TestEnv;
let secret: string;
const running: RunningRole[] = [];
/** What the pipeline run in the setup saw, for the tests to check. */
const accepted: number[] = [];
let queued: Awaited<ReturnType<typeof tenantStatus>>;
let drained: Awaited<ReturnType<typeof tenantStatus>>;

const snapshot = async () =>
  (
    await t.services.db.query(
      `SELECT tenant_id, ticket_id, status, subject, description, priority, category, requester, context, enhancement, writeback, failure,
              created_at, received_at, context_gathered_at, enhanced_at, written_back_at, failed_at, updated_at, last_event_id, last_stream_id, version, event_ids
         FROM tickets ORDER BY tenant_id, ticket_id`,
    )
  ).rows;

const send = (app: RunningRole['app'], id: string, priority: string) => {
  const body = ticketBody({ id, subject: `Ticket ${id}`, description: `About ${id}`, priority });
  return app.inject({
    method: 'POST',
    url: `/v1/webhooks/${tenant}/tickets`,
    payload: body,
    headers: signedHeaders(secret, body),
  });
};

// Both the lane order and the rebuilds need a backlog run through the whole pipeline: the setup
// runs it once, recording what it saw; the tests check it.
beforeAll(async () => {
  t = await createTestEnv();
  secret = (await t.services.registry.create({ id: tenant })).secret;
  const ingest = await startRole('ingest', t.services, { listen: false });
  running.push(ingest);
  for (let start = 0; start < backlog; start += 100) {
    const responses = await Promise.all(
      Array.from({ length: 100 }, (_, i) => send(ingest.app, `L-${start + i}`, 'low')),
    );
    accepted.push(...responses.map((response) => response.statusCode));
  }
  for (let i = 0; i < urgent; i++)
    accepted.push((await send(ingest.app, `U-${i}`, i % 2 === 0 ? 'urgent' : ' Urgent ')).statusCode);
  // Nothing runs yet.
  queued = await tenantStatus(t.services.redis, t.services.keys, tenant);

  const overrides = { runnerOverrides: { blockMs: 100, tenantRefreshMs: 100 } };
  running.push(
    await startRole('worker', t.services, { listen: false, ...overrides }),
    await startRole('projector', t.services, { listen: false, ...overrides }),
  );
  await waitFor(
    async () => {
      const result = await t.services.db.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM tickets WHERE status = 'written_back'",
      );
      return result.rows[0]!.n === backlog + urgent;
    },
    { timeoutMs: 120_000, message: 'every ticket written back' },
  );
  drained = await waitFor(
    async () => {
      const status = await tenantStatus(t.services.redis, t.services.keys, tenant);
      return status.groups.length === 5 && backlogOf(status) === 0 ? status : undefined;
    },
    { message: 'every group of both lanes caught up' },
  );
}, 180_000);

afterAll(async () => {
  for (const role of running) await role.stop();
  await t?.cleanup();
});

describe('priority lanes', () => {
  it('writes back urgent tickets ahead of a queued backlog of low ones, and still drains the backlog', async () => {
    expect(accepted).toHaveLength(backlog + urgent);
    expect(accepted.every((status) => status === 202)).toBe(true);
    // Before anything ran, status and the backlog count both lanes.
    expect(queued.lanes).toEqual({ normal: backlog, priority: urgent });
    expect(queued.streamLength).toBe(backlog + urgent);
    expect(drained.dlqLength).toBe(0);
    expect(drained.lanes).toEqual({ normal: backlog * 4, priority: urgent * 4 });
    expect(backlogOf(drained)).toBe(0);

    // The archive holds both lanes in one order (their ids come from one sequence): urgent tickets
    // were queued after the whole backlog, and their write-backs came before nearly all of it.
    const archived = await waitFor(
      async () => {
        const { rows } = await t.services.db.query<{ ticket_id: string; type: string; stream_id: string }>(
          "SELECT ticket_id, type, stream_id FROM events WHERE tenant_id = $1 AND type IN ('ticket.received', 'ticket.written_back') ORDER BY stream_position(stream_id)",
          [tenant],
        );
        return rows.length === 2 * (backlog + urgent) ? rows : undefined;
      },
      { message: 'archive complete' },
    );
    const received = archived.filter((row) => row.type === 'ticket.received');
    expect(received.slice(-urgent).every((row) => row.ticket_id.startsWith('U-'))).toBe(true);
    const writtenBack = archived.filter((row) => row.type === 'ticket.written_back');
    const lastUrgent = writtenBack.findLastIndex((row) => row.ticket_id.startsWith('U-'));
    const lowBefore = writtenBack.slice(0, lastUrgent).filter((row) => row.ticket_id.startsWith('L-')).length;
    expect(lowBefore).toBeLessThan(backlog * 0.05);
    const ids = archived.map((row) => row.stream_id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('rebuilds rows equal to the live ones from both lanes, also once the lanes were trimmed unevenly', async () => {
    const live = await snapshot();
    expect(live).toHaveLength(backlog + urgent);
    await t.services.db.query("UPDATE tickets SET status = 'received' WHERE ticket_id LIKE 'U-%'");
    await rebuildProjection({
      ...t.services,
      projection: ticketsProjection,
      schema: t.config.databaseSchema,
      tenants: [tenant],
    });
    expect(await snapshot()).toEqual(live);

    // Trimmed to 30 entries each, the priority lane starts long before the normal lane: below the
    // normal lane's first entry, history takes the priority lane's entries once and the rest from the archive.
    await trimTenantStream(t.services.redis, t.services.keys, t.services.db, tenant, {
      maxAgeMs: 86_400_000,
      maxLength: 30,
    });
    const [normalFirst] = (await t.services.redis.xrange(t.services.keys.events(tenant), '-', '+', 'COUNT', 1)) as [
      string,
      string[],
    ][];
    const [priorityFirst] = (await t.services.redis.xrange(
      t.services.keys.priorityEvents(tenant),
      '-',
      '+',
      'COUNT',
      1,
    )) as [string, string[]][];
    expect(compareStreamIds(priorityFirst![0], normalFirst![0])).toBeLessThan(0);
    const history: string[] = [];
    for await (const batch of readHistory(t.services, tenant, { batchSize: 500 }))
      history.push(...batch.map((entry) => entry.streamId));
    expect(history).toHaveLength(4 * (backlog + urgent));
    expect(history).toEqual([...history].sort(compareStreamIds));
    expect(new Set(history).size).toBe(history.length);
    await t.services.db.query('DELETE FROM tickets');
    await rebuildProjection({
      ...t.services,
      projection: ticketsProjection,
      schema: t.config.databaseSchema,
      tenants: [tenant],
    });
    expect(await snapshot()).toEqual(live);
  });

  it('redrives a dead letter back to the lane it came from', async () => {
    const { redis, keys } = t.services;
    // A tenant of its own: its streams hold only what this test puts there.
    const tenant = 'redriven';
    const fields = ['id', 'evt-1', 'type', 'ticket.received'];
    const letter = (lane: 'normal' | 'priority') =>
      deadLetterFields({
        entry: '1-1',
        lane,
        group: 'context',
        code: 'HANDLER_FAILED',
        message: 'x',
        attempts: 3,
        firstFailedAt: '',
        lastFailedAt: '',
        fields,
      });
    await redis.xadd(keys.dlq(tenant), '*', ...letter('priority'));
    await redis.xadd(keys.dlq(tenant), '*', ...letter('normal'));
    expect((await listDeadLetters(redis, keys, tenant)).map((dead) => dead.lane)).toEqual(['priority', 'normal']);
    const lengths = async () => [await redis.xlen(keys.events(tenant)), await redis.xlen(keys.priorityEvents(tenant))];
    const [normalBefore, priorityBefore] = await lengths();
    expect(await redriveDeadLetters(redis, keys, tenant)).toEqual({ redriven: 2, missing: [] });
    expect(await lengths()).toEqual([normalBefore! + 1, priorityBefore! + 1]);
    const newest = async (key: string) =>
      ((await redis.xrevrange(key, '+', '-', 'COUNT', 1)) as [string, string[]][])[0]![0];
    const [lastPriority, lastNormal] = [await newest(keys.priorityEvents(tenant)), await newest(keys.events(tenant))];
    // One id sequence: the second redrive's id follows the first's although it went to the other lane.
    expect(compareStreamIds(lastPriority, lastNormal)).toBeLessThan(0);

    // Something appended past the sequence: the next append starts again from what the lanes hold.
    const foreign = `${Date.now() + 60_000}-0`;
    await redis.xadd(keys.events(tenant), foreign, 'id', 'evt-2', 'type', 'ticket.received');
    // Redrive these two only.
    const ids = [
      (await redis.xadd(keys.dlq(tenant), '*', ...letter('normal')))!,
      (await redis.xadd(keys.dlq(tenant), '*', ...letter('priority')))!,
    ];
    expect(await redriveDeadLetters(redis, keys, tenant, ids)).toEqual({ redriven: 2, missing: [] });
    const [afterNormal, afterPriority] = [await newest(keys.events(tenant)), await newest(keys.priorityEvents(tenant))];
    expect(compareStreamIds(foreign, afterNormal)).toBeLessThan(0);
    expect(compareStreamIds(afterNormal, afterPriority)).toBeLessThan(0);
  });

  it('reads the priority lane first, up to its share, and never starves the normal lane', async () => {
    expect([
      laneCounts(10, 0.8).priority,
      laneCounts(10, 0.8).normalAfter(8),
      laneCounts(10, 0.8).normalAfter(3),
      laneCounts(10, 0.8).normalAfter(0),
    ]).toEqual([8, 2, 7, 10]);
    expect([laneCounts(1, 0.8).priority, laneCounts(1, 0.8).normalAfter(1)]).toEqual([1, 1]);

    // A tenant no runner reads (not registered), both lanes flooded.
    const { redis, keys } = t.services;
    const flooded = 'flooded';
    for (const stream of keys.lanes(flooded)) {
      await redis.xgroup('CREATE', stream, 'reader-test', '0', 'MKSTREAM');
      const pipeline = redis.pipeline();
      for (let i = 0; i < 50; i++) pipeline.xadd(stream, '*', 'n', String(i));
      await pipeline.exec();
    }
    const reader = new GroupReader(redis, 'reader-test', 'reader-test-1');
    const lanes = { normal: [keys.events(flooded)], priority: [keys.priorityEvents(flooded)] };
    const perLane = (reply: Awaited<ReturnType<GroupReader['readLanes']>>) =>
      Object.fromEntries(
        (reply ?? []).map(([key, entries]) => [
          key === keys.priorityEvents(flooded) ? 'priority' : 'normal',
          entries.length,
        ]),
      );
    expect(perLane(await reader.readLanes(lanes, 10, 0.8, 100))).toEqual({ priority: 8, normal: 2 });
    expect(perLane(await reader.readLanes(lanes, 10, 0.5, 100))).toEqual({ priority: 5, normal: 5 });
    // The priority lane's last 37 entries: 7 more reads of 10 each take 37 from it and 33 from the normal lane.
    let priority = 0;
    let normal = 0;
    for (let read = 0; read < 7; read++) {
      const counts = perLane(await reader.readLanes(lanes, 10, 0.8, 100));
      priority += counts.priority ?? 0;
      normal += counts.normal ?? 0;
    }
    expect({ priority, normal }).toEqual({ priority: 37, normal: 33 });
  });
});
