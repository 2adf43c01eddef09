import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeEvent, type TicketEventOf } from '../../src/events.js';
import { startRole, type RunningRole } from '../../src/runtime/roles.js';
import { runCli } from '../support/child.js';
import { createTestEnv, waitFor, type TestEnv } from '../support/env.js';
import { startFakeOpenAi, type ChatRequest, type FakeOpenAi } from '../support/fake-openai.js';
import { signedHeaders, ticketBody } from '../support/webhook.js';

const price = { input: 0.15, output: 0.6 };
const auth = { authorization: 'Bearer test-admin-token-0123456789' };
let fake: FakeOpenAi;
let t: TestEnv;
let running: RunningRole;
const secrets = new Map<string, string>();

const tenantOf = (request: ChatRequest) =>
  (
    JSON.parse(request.body.messages.find((message) => message.role === 'user')!.content) as {
      ticket: { subject: string };
    }
  ).ticket.subject.split(' ')[0];
const callsOf = (tenant: string) => fake.requests.filter((request) => tenantOf(request) === tenant).length;

beforeAll(async () => {
  fake = await startFakeOpenAi(() => ({ usage: { prompt_tokens: 1_000, completion_tokens: 200 } }));
  t = await createTestEnv({
    OPENAI_API_KEY: 'sk-budget-test',
    OPENAI_BASE_URL: fake.url,
    OPENAI_MODEL: 'fake-gpt',
    LLM_PRICES: JSON.stringify({ 'fake-gpt': price }),
    RETRY_BASE_MS: '20',
    RETRY_MAX_MS: '100',
    BUDGET_RECHECK_MS: '150',
  });
  for (const id of ['metered', 'thrift', 'patient']) secrets.set(id, (await t.services.registry.create({ id })).secret);
  running = await startRole('all', t.services, {
    listen: false,
    runnerOverrides: { blockMs: 100, tenantRefreshMs: 100 },
  });
});

afterAll(async () => {
  await running?.stop();
  await t?.cleanup();
  await fake?.close();
});

/** Subjects start with the tenant's id, so the fake's requests can be told apart per tenant. */
async function send(tenant: string, id: string): Promise<void> {
  const body = ticketBody({
    id,
    subject: `${tenant} ticket ${id}: Outlook keeps asking for the password`,
    description: 'Since the update.',
  });
  const response = await running.app.inject({
    method: 'POST',
    url: `/v1/webhooks/${tenant}/tickets`,
    payload: body,
    headers: signedHeaders(secrets.get(tenant)!, body),
  });
  expect(response.statusCode).toBe(202);
}

type Row = {
  status: string;
  enhancement: { model: string; costUsd?: number; budget?: unknown } | null;
  enhancement_cost_usd: string | null;
};
const row = async (tenant: string, id: string) =>
  (
    await t.services.db.query<Row>(
      'SELECT status, enhancement, enhancement_cost_usd FROM tickets WHERE tenant_id = $1 AND ticket_id = $2',
      [tenant, id],
    )
  ).rows[0];
const writtenBack = (tenant: string, id: string) =>
  waitFor(
    async () => {
      const found = await row(tenant, id);
      return found?.status === 'written_back' ? found : undefined;
    },
    { message: `${tenant}/${id} written back` },
  );

async function enhancedEvent(tenant: string, id: string): Promise<TicketEventOf<'ticket.enhanced'>> {
  const entries = (await t.services.redis.xrange(t.services.keys.events(tenant), '-', '+')) as [string, string[]][];
  const events = entries.map(([, fields]) => decodeEvent(fields));
  return events.find(
    (event): event is TicketEventOf<'ticket.enhanced'> => event.type === 'ticket.enhanced' && event.ticket === id,
  )!;
}

const setBudget = async (tenant: string, budget: Record<string, unknown>) => {
  const response = await running.app.inject({
    method: 'PUT',
    url: `/v1/admin/tenants/${tenant}/budget`,
    payload: budget,
    headers: auth,
  });
  expect(response.statusCode).toBe(200);
};

describe('cost per ticket and usage per tenant', () => {
  it('records the cost on the event and the ticket row, counts it in /metrics, and reports it', async () => {
    await send('metered', 'C-1');
    await send('metered', 'C-2');
    const ticket = await writtenBack('metered', 'C-1');
    await writtenBack('metered', 'C-2');
    const expected = (1_000 * price.input + 200 * price.output) / 1e6;
    expect((await enhancedEvent('metered', 'C-1')).data).toMatchObject({
      model: 'fake-gpt',
      tokens: { prompt: 1_000, completion: 200 },
      costUsd: expected,
    });
    expect(Number(ticket.enhancement_cost_usd)).toBe(expected);
    expect(ticket.enhancement?.costUsd).toBe(expected);

    const metrics = await t.services.metrics.render();
    expect(metrics).toContain(
      `streamdesk_tenant_llm_cost_usd_total{tenant="metered",model="fake-gpt"} ${2 * expected}`,
    );
    expect(metrics).toContain(
      'streamdesk_tenant_llm_tokens_total{tenant="metered",model="fake-gpt",kind="prompt"} 2000',
    );

    const usage = await waitFor(
      async () => {
        const response = await running.app.inject({
          method: 'GET',
          url: '/v1/admin/usage?tenant=metered&since=1d',
          headers: auth,
        });
        const body = response.json() as { usage: { enhancements: number }[] };
        return body.usage[0]?.enhancements === 2 ? body : undefined;
      },
      { message: 'both enhancements archived' },
    );
    expect(usage.usage).toEqual([
      {
        tenant: 'metered',
        model: 'fake-gpt',
        enhancements: 2,
        tickets: 2,
        tokens: { prompt: 2_000, completion: 400, total: 2_400 },
        costUsd: 2 * expected,
        averageCostUsd: expected,
        unpriced: 0,
        offlineOverBudget: 0,
        waitedForBudget: 0,
      },
    ]);
    expect(
      (await running.app.inject({ method: 'GET', url: '/v1/admin/usage?since=yesterday', headers: auth })).statusCode,
    ).toBe(400);

    const cli = await runCli(['usage', '--tenant', 'metered', '--since', '7d'], t.env);
    expect(cli.code).toBe(0);
    expect(cli.stdout).toMatch(/metered\s+fake-gpt\s+2\s+2\s+2400\s+\$0\.000540\s+\$0\.000270/);
    expect((await runCli(['usage', '--since', 'last week'], t.env)).code).toBe(2);
  });
});

describe('budgets', () => {
  it('enhances with the offline enhancer once a tenant is over a budget set to offline, and says so on the event', async () => {
    await setBudget('thrift', { dailyTokens: 1_000, overBudget: 'offline' });
    await send('thrift', 'B-1');
    await writtenBack('thrift', 'B-1');
    await send('thrift', 'B-2');
    const second = await writtenBack('thrift', 'B-2');
    expect(callsOf('thrift')).toBe(1);
    expect(second.enhancement).toMatchObject({
      model: 'offline',
      budget: { exceeded: 'dailyTokens', action: 'offline' },
    });
    expect((await enhancedEvent('thrift', 'B-2')).data).toMatchObject({
      model: 'offline',
      costUsd: 0,
      budget: { exceeded: 'dailyTokens', action: 'offline' },
    });
    expect(await t.services.metrics.render()).toContain(
      'streamdesk_budget_decisions_total{tenant="thrift",action="offline"} 1',
    );
    const budget = (
      await running.app.inject({ method: 'GET', url: '/v1/admin/tenants/thrift/budget', headers: auth })
    ).json() as Record<string, unknown>;
    expect(budget).toMatchObject({
      exceeded: 'dailyTokens',
      usage: { day: { tokens: 1_200 } },
      settings: { dailyTokens: 1_000, overBudget: 'offline' },
    });
  });

  it('holds the tickets of a tenant over a budget set to wait, without using attempts, until the budget is raised', async () => {
    const cli = await runCli(
      ['budget', 'set', '--tenant', 'patient', '--daily-usd', '0.0001', '--over', 'wait'],
      t.env,
    );
    expect(cli.code).toBe(0);
    expect(cli.stdout).toContain('patient: budget: day $0.000000/$0.000100');
    await send('patient', 'W-1');
    await writtenBack('patient', 'W-1');
    await send('patient', 'W-2');
    // Waiting: checked again and again, far more often than MAX_ATTEMPTS, and never dead-lettered.
    await waitFor(
      async () =>
        /streamdesk_budget_decisions_total\{tenant="patient",action="wait"\} ([5-9]|\d\d+)/.test(
          await t.services.metrics.render(),
        ),
      { message: 'the ticket waited several times' },
    );
    expect((await row('patient', 'W-2'))?.status).toBe('context_gathered');
    expect(await t.services.redis.xlen(t.services.keys.dlq('patient'))).toBe(0);
    const status = await runCli(['status'], t.env);
    expect(status.stdout).toMatch(
      /patient: [^\n]*\n(.*\n)*\s+budget: day \$0\.000270\/\$0\.000100; OVER \(dailyUsd\): 1 ticket\(s\) waiting/,
    );

    await setBudget('patient', { dailyUsd: 1, overBudget: 'wait' });
    const second = await writtenBack('patient', 'W-2');
    expect(second.enhancement).toMatchObject({
      model: 'fake-gpt',
      budget: { exceeded: 'dailyUsd', action: 'waited', waitingSince: expect.any(String) },
    });
    expect(callsOf('patient')).toBe(2);
    expect(
      (await running.app.inject({ method: 'GET', url: '/v1/admin/tenants/patient/budget', headers: auth })).json(),
    ).toMatchObject({ waiting: 0, exceeded: null });
  });

  it('refuses a budget that is not valid', async () => {
    const response = await running.app.inject({
      method: 'PUT',
      url: '/v1/admin/tenants/thrift/budget',
      payload: { dailyUsd: -1, overBudget: 'drop' },
      headers: auth,
    });
    expect(response.statusCode).toBe(400);
    expect((response.json() as { error: { code: string } }).error.code).toBe('BAD_REQUEST');
    expect((await runCli(['budget', 'set', '--tenant', 'thrift', '--over', 'drop'], t.env)).code).toBe(2);
  });
});
