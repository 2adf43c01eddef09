import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRole, type RunningRole } from '../../src/runtime/roles.js';
import { createTestEnv, waitFor, type TestEnv } from '../support/env.js';
import { signedHeaders, ticketBody } from '../support/webhook.js';

let t: TestEnv;
let running: RunningRole;
const secrets = new Map<string, string>();

beforeAll(async () => {
  t = await createTestEnv();
  for (const id of ['alpha', 'bravo', 'charlie']) secrets.set(id, (await t.services.registry.create({ id })).secret);
  running = await startRole('all', t.services, {
    listen: false,
    runnerOverrides: { blockMs: 100, tenantRefreshMs: 100 },
  });
});

afterAll(async () => {
  await running?.stop();
  await t?.cleanup();
});

async function send(
  tenant: string,
  id: string,
  subject: string,
  description: string,
  event: 'ticket.created' | 'ticket.updated' = 'ticket.created',
) {
  const body = ticketBody(
    { id, subject, description, priority: 'medium', requester: { email: `${id.toLowerCase()}@example.com` } },
    event,
  );
  return running.app.inject({
    method: 'POST',
    url: `/v1/webhooks/${tenant}/tickets`,
    payload: body,
    headers: signedHeaders(secrets.get(tenant)!, body),
  });
}

// The other tests add tickets of their own (not T-…), and a tenant.
const countTickets = async (schema: string) =>
  Number(
    (await t.services.db.query(`SELECT count(*) AS n FROM ${schema}.tickets WHERE ticket_id LIKE 'T-%'`)).rows[0].n,
  );

describe('webhooks to Postgres', () => {
  it('projects 600 webhooks over 3 tenants, sent concurrently, each exactly once with the right fields', async () => {
    const tenants = ['alpha', 'bravo', 'charlie'];
    const responses = await Promise.all(
      Array.from({ length: 600 }, (_, i) =>
        send(tenants[i % 3]!, `T-${i}`, `Subject ${i}`, `Description of ticket ${i} for ${tenants[i % 3]}`),
      ),
    );
    expect(responses.every((response) => response.statusCode === 202)).toBe(true);
    await waitFor(async () => (await countTickets(t.config.databaseSchema)) === 600, {
      timeoutMs: 30_000,
      message: '600 tickets projected',
    });
    const { rows } = await t.services.db.query<{ tenant_id: string; n: string; wrong: string }>(
      `SELECT tenant_id, count(*) AS n,
              count(*) FILTER (WHERE subject <> 'Subject ' || substr(ticket_id, 3) OR description NOT LIKE '%for ' || tenant_id OR requester->>'email' <> lower(ticket_id) || '@example.com') AS wrong
         FROM tickets WHERE ticket_id LIKE 'T-%' GROUP BY tenant_id ORDER BY tenant_id`,
    );
    expect(rows).toEqual(tenants.map((tenant) => ({ tenant_id: tenant, n: '200', wrong: '0' })));
    const receivedEvents =
      "SELECT count(*)::int AS n, count(DISTINCT ticket_id)::int AS tickets FROM events WHERE type = 'ticket.received' AND ticket_id LIKE 'T-%'";
    await waitFor(async () => (await t.services.db.query(receivedEvents)).rows[0].n === 600, {
      message: 'archive complete',
    });
    expect((await t.services.db.query(receivedEvents)).rows[0].tickets).toBe(600);
    const applied = await t.services.db.query(
      "SELECT count(*) FILTER (WHERE received_at IS NULL)::int AS missing, count(*) FILTER (WHERE cardinality(event_ids) <> (SELECT count(DISTINCT e) FROM unnest(event_ids) e))::int AS doubled FROM tickets WHERE ticket_id LIKE 'T-%'",
    );
    expect(applied.rows[0]).toEqual({ missing: 0, doubled: 0 });
  });

  it('applies ticket.updated to the existing row', async () => {
    await send('alpha', 'U-1', 'Old subject', 'Old description');
    await waitFor(
      async () =>
        (await t.services.db.query("SELECT 1 FROM tickets WHERE tenant_id = 'alpha' AND ticket_id = 'U-1'"))
          .rowCount === 1,
    );
    await send('alpha', 'U-1', 'New subject', 'New description', 'ticket.updated');
    const row = await waitFor(async () => {
      const { rows } = await t.services.db.query(
        "SELECT subject, description FROM tickets WHERE tenant_id = 'alpha' AND ticket_id = 'U-1'",
      );
      return rows[0]?.subject === 'New subject' ? rows[0] : undefined;
    });
    expect(row).toEqual({ subject: 'New subject', description: 'New description' });
  });

  it('consumes a tenant created while running, without a restart', async () => {
    secrets.set('delta', (await t.services.registry.create({ id: 'delta' })).secret);
    const response = await send('delta', 'D-1', 'Late tenant', 'Created after start');
    expect(response.statusCode).toBe(202);
    await waitFor(
      async () =>
        (await t.services.db.query("SELECT 1 FROM tickets WHERE tenant_id = 'delta' AND ticket_id = 'D-1'"))
          .rowCount === 1,
      { message: 'new tenant consumed' },
    );
  });

  it('leaves nothing pending once caught up', async () => {
    await waitFor(
      async () => {
        for (const tenant of secrets.keys()) {
          const groups = (await t.services.redis.xinfo('GROUPS', t.services.keys.events(tenant))) as unknown[][];
          for (const group of groups) if (Number(group[group.indexOf('pending') + 1]) !== 0) return false;
        }
        return true;
      },
      // The 600 tickets go through every stage, not only the projection: that takes a while on a loaded machine.
      { timeoutMs: 50_000, message: 'no pending entries' },
    );
  });
});
