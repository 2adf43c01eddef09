import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeEvent } from '../../src/events.js';
import { trimTenantStream, type RetentionPolicy } from '../../src/streams/retention.js';
import { createTestEnv, type TestEnv } from '../support/env.js';
import { receivedEvent } from '../support/events.js';

let t: TestEnv;
let tenantNo = 0;

beforeAll(async () => {
  t = await createTestEnv();
});
afterAll(async () => {
  await t?.cleanup();
});

/** A stream of `count` entries with an archiver group and a context group, both having read nothing. */
async function streamOf(count: number): Promise<{ tenant: string; ids: string[] }> {
  const tenant = `keep-${++tenantNo}`;
  const { redis, keys } = t.services;
  const ids: string[] = [];
  for (let i = 0; i < count; i++)
    ids.push((await redis.xadd(keys.events(tenant), '*', ...encodeEvent(receivedEvent(tenant, `R-${i}`))))!);
  for (const group of ['archiver', 'context']) await redis.xgroup('CREATE', keys.events(tenant), group, '0');
  return { tenant, ids };
}

/** `group` reads the first `read` entries and acknowledges all but those from index `keepPendingFrom`. */
async function consume(tenant: string, group: string, read: number, keepPendingFrom = read): Promise<void> {
  const { redis, keys } = t.services;
  const reply = (await redis.xreadgroup('GROUP', group, 'c1', 'COUNT', read, 'STREAMS', keys.events(tenant), '>')) as [
    string,
    [string, string[]][],
  ][];
  const ids = reply[0]![1].map(([id]) => id);
  const toAck = ids.filter((_, index) => index < keepPendingFrom);
  if (toAck.length > 0) await redis.xack(keys.events(tenant), group, ...toAck);
}

async function archivedUpTo(tenant: string, streamId: string): Promise<void> {
  await t.services.db.query(
    `INSERT INTO projection_checkpoints (projection, tenant_id, stream_id) VALUES ('events', $1, $2)
     ON CONFLICT (projection, tenant_id) DO UPDATE SET stream_id = EXCLUDED.stream_id`,
    [tenant, streamId],
  );
}

const remaining = async (tenant: string) =>
  ((await t.services.redis.xrange(t.services.keys.events(tenant), '-', '+')) as [string, string[]][]).map(([id]) => id);
const trim = (tenant: string, policy: RetentionPolicy) =>
  trimTenantStream(t.services.redis, t.services.keys, t.services.db, tenant, policy);
const everythingOld: RetentionPolicy = { maxAgeMs: 0, maxLength: 1_000_000 };

describe('retention', () => {
  it('trims by age, never past the oldest pending entry of any group', async () => {
    const { tenant, ids } = await streamOf(100);
    await consume(tenant, 'archiver', 100);
    await archivedUpTo(tenant, ids[99]!);
    await consume(tenant, 'context', 60, 40); // 40..59 delivered, not acknowledged
    const result = await trim(tenant, everythingOld);
    expect(result).toMatchObject({ trimmed: 40, heldBy: 'context' });
    expect(await remaining(tenant)).toEqual(ids.slice(40));
  });

  it('never past an undelivered entry, nor past what the archiver has stored', async () => {
    const { tenant, ids } = await streamOf(100);
    await consume(tenant, 'archiver', 100);
    await archivedUpTo(tenant, ids[69]!);
    await consume(tenant, 'context', 80);
    expect(await trim(tenant, everythingOld)).toMatchObject({ trimmed: 70, heldBy: 'archive' });
    expect(await remaining(tenant)).toEqual(ids.slice(70));
    await archivedUpTo(tenant, ids[99]!);
    expect(await trim(tenant, everythingOld)).toMatchObject({ trimmed: 10, heldBy: 'context' });
    expect(await remaining(tenant)).toEqual(ids.slice(80));
  });

  it('keeps at most the maximum length, as far as the bounds allow', async () => {
    const { tenant, ids } = await streamOf(100);
    await consume(tenant, 'archiver', 100);
    await consume(tenant, 'context', 100);
    await archivedUpTo(tenant, ids[49]!);
    const recent: RetentionPolicy = { maxAgeMs: 86_400_000, maxLength: 10 };
    expect(await trim(tenant, recent)).toMatchObject({ trimmed: 50, heldBy: 'archive' });
    expect(await remaining(tenant)).toEqual(ids.slice(50));
    await archivedUpTo(tenant, ids[99]!);
    expect((await trim(tenant, recent)).trimmed).toBe(40);
    expect(await remaining(tenant)).toEqual(ids.slice(90));
  });

  it('leaves a stream within its policy alone, and does nothing before the archiver group exists', async () => {
    const { tenant, ids } = await streamOf(20);
    await consume(tenant, 'archiver', 20);
    await archivedUpTo(tenant, ids[19]!);
    expect(await trim(tenant, { maxAgeMs: 86_400_000, maxLength: 20 })).toMatchObject({ trimmed: 0, minId: undefined });
    expect(await remaining(tenant)).toEqual(ids);

    const fresh = `keep-${++tenantNo}`;
    await t.services.redis.xadd(t.services.keys.events(fresh), '*', ...encodeEvent(receivedEvent(fresh, 'R-0')));
    expect(await trim(fresh, everythingOld)).toMatchObject({ trimmed: 0 });
    expect(await t.services.redis.xlen(t.services.keys.events(fresh))).toBe(1);
  });
});
