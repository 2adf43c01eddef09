import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accountTag, ProviderGate, providerId } from '../../src/llm/gate.js';
import { offlineEnhancer } from '../../src/consumers/enhancers/offline.js';
import { TenantEnhancers } from '../../src/consumers/enhancers/tenant-enhancers.js';
import { startRole, type RunningRole } from '../../src/runtime/roles.js';
import { applyModelChange, type TenantModelSettings } from '../../src/tenants/model-settings.js';
import { TenantRegistry, type Tenant } from '../../src/tenants/registry.js';
import { SecretBox } from '../../src/tenants/secret-box.js';
import { spawnCli, runCli, type CliResult } from '../support/child.js';
import { createTestEnv, waitFor, type TestEnv } from '../support/env.js';
import { startFakeOpenAi, type ChatRequest, type FakeOpenAi } from '../support/fake-openai.js';
import { signedHeaders, ticketBody } from '../support/webhook.js';

const globalKey = 'sk-global-0123456789abcdef';
const tenantKey = 'sk-acme-own-fedcba9876543210';
const rotatedKey = 'sk-acme-rotated-1122334455667788';
const admin = { authorization: 'Bearer test-admin-token-0123456789' };
let globalFake: FakeOpenAi;
let tenantFake: FakeOpenAi;
let t: TestEnv;
let running: RunningRole;
const secrets = new Map<string, string>();

beforeAll(async () => {
  [globalFake, tenantFake] = await Promise.all([startFakeOpenAi(), startFakeOpenAi()]);
  t = await createTestEnv({
    OPENAI_API_KEY: globalKey,
    OPENAI_BASE_URL: globalFake.url,
    OPENAI_MODEL: 'global-gpt',
    OPENAI_TIMEOUT_MS: '2000',
    LLM_PRICES: JSON.stringify({ 'tenant-gpt': { input: 1, output: 2 }, 'global-gpt': { input: 10, output: 20 } }),
    SECRETS_ENCRYPTION_KEY: 'a'.repeat(64),
    RETRY_BASE_MS: '20',
    RETRY_MAX_MS: '100',
  });
  // Each test that changes a tenant's settings has a tenant of its own.
  for (const id of ['acme', 'globex', 'initech', 'umbrella', 'soylent', 'hooli'])
    secrets.set(id, (await t.services.registry.create({ id })).secret);
  running = await startRole('all', t.services, {
    listen: false,
    runnerOverrides: { blockMs: 100, tenantRefreshMs: 100 },
  });
});

afterAll(async () => {
  await running?.stop();
  await t?.cleanup();
  await Promise.all([globalFake?.close(), tenantFake?.close()]);
});

const subjectOf = (request: ChatRequest) =>
  (
    JSON.parse(request.body.messages.find((message) => message.role === 'user')?.content ?? '{}') as {
      ticket?: { subject?: string };
    }
  ).ticket?.subject;
const systemOf = (request: ChatRequest) =>
  request.body.messages.find((message) => message.role === 'system')?.content ?? '';

async function putModel(tenant: string, payload: unknown) {
  return running.app.inject({
    method: 'PUT',
    url: `/v1/admin/tenants/${tenant}/model`,
    headers: admin,
    payload: payload as Record<string, unknown>,
  });
}

/** Sends a ticket and waits for the request it caused at either server. */
async function enhanced(
  tenant: string,
  id: string,
  subject: string,
): Promise<{ server: 'global' | 'tenant'; request: ChatRequest; enhancement: Record<string, unknown> }> {
  const body = ticketBody({ id, subject, description: 'Since this morning.' });
  const response = await running.app.inject({
    method: 'POST',
    url: `/v1/webhooks/${tenant}/tickets`,
    payload: body,
    headers: signedHeaders(secrets.get(tenant)!, body),
  });
  expect(response.statusCode).toBe(202);
  const enhancement = await waitFor(
    async () => {
      const { rows } = await t.services.db.query<{ enhancement: Record<string, unknown> | null }>(
        'SELECT enhancement FROM tickets WHERE tenant_id = $1 AND ticket_id = $2',
        [tenant, id],
      );
      return rows[0]?.enhancement ?? undefined;
    },
    { message: `ticket ${tenant}/${id} enhanced` },
  );
  const atTenant = tenantFake.requests.filter((request) => subjectOf(request) === subject);
  const atGlobal = globalFake.requests.filter((request) => subjectOf(request) === subject);
  expect(atTenant.length + atGlobal.length).toBe(1);
  return atTenant.length === 1
    ? { server: 'tenant', request: atTenant[0]!, enhancement }
    : { server: 'global', request: atGlobal[0]!, enhancement };
}

describe('per-tenant model settings', () => {
  it("stores a tenant's own settings with the API key sealed, and shows only whether a key is set", async () => {
    const put = await putModel('acme', {
      model: 'tenant-gpt',
      baseUrl: tenantFake.url,
      apiKey: tenantKey,
      language: 'de',
    });
    expect(put.statusCode).toBe(200);
    expect(put.json()).toEqual({
      tenant: 'acme',
      model: 'tenant-gpt',
      baseUrl: tenantFake.url,
      language: 'de',
      apiKeySet: true,
    });
    const shown = await running.app.inject({ method: 'GET', url: '/v1/admin/tenants/acme/model', headers: admin });
    expect(shown.json()).toEqual(put.json());
    const none = await running.app.inject({ method: 'GET', url: '/v1/admin/tenants/globex/model', headers: admin });
    expect(none.json()).toEqual({ tenant: 'globex', model: null, baseUrl: null, language: null, apiKeySet: false });
    for (const url of ['/v1/admin/tenants', '/v1/admin/tenants/acme', '/v1/admin/status']) {
      expect((await running.app.inject({ method: 'GET', url, headers: admin })).body).not.toContain(tenantKey);
    }

    const stored = await t.services.redis.hgetall(`${t.services.keys.tenantEntityPrefix}:acme`);
    expect(stored.model).toMatch(/^enc:v1:/);
    expect(JSON.stringify(stored)).not.toContain(tenantKey);
    expect(JSON.stringify(stored)).not.toContain('tenant-gpt');
  });

  it("sends each tenant's tickets to its own server with its key, model and language, the others to the global one", async () => {
    const own = { model: 'tenant-gpt', baseUrl: tenantFake.url, apiKey: tenantKey, language: 'de' };
    expect((await putModel('umbrella', own)).statusCode).toBe(200);
    const acme = await enhanced('umbrella', 'A-1', 'Printer jams on floor 3');
    expect(acme.server).toBe('tenant');
    expect(acme.request.authorization).toBe(`Bearer ${tenantKey}`);
    expect(acme.request.body.model).toBe('tenant-gpt');
    expect(systemOf(acme.request)).toContain('in German (de)');
    // The fake answers 321 prompt and 54 completion tokens, priced by the tenant's model.
    expect(acme.enhancement).toMatchObject({ model: 'tenant-gpt', costUsd: (321 * 1 + 54 * 2) / 1e6 });

    const globex = await enhanced('globex', 'G-1', 'Mailbox is full');
    expect(globex.server).toBe('global');
    expect(globex.request.authorization).toBe(`Bearer ${globalKey}`);
    expect(globex.request.body.model).toBe('global-gpt');
    expect(systemOf(globex.request)).not.toContain('German');
    expect(globex.enhancement).toMatchObject({ model: 'global-gpt', costUsd: (321 * 10 + 54 * 20) / 1e6 });

    // Each provider, model and account has its own shared gate.
    const { keys, redis } = t.services;
    expect(await redis.exists(keys.llmGate(providerId(tenantFake.url, 'tenant-gpt', accountTag(tenantKey))))).toBe(1);
    expect(await redis.exists(keys.llmGate(providerId(globalFake.url, 'global-gpt')))).toBe(1);
  });

  it('a tenant with only a model or a language keeps the global server and key', async () => {
    expect((await putModel('initech', { model: 'tenant-gpt', language: 'fr' })).statusCode).toBe(200);
    const initech = await enhanced('initech', 'I-1', 'Badge reader offline');
    expect(initech.server).toBe('global');
    expect(initech.request.authorization).toBe(`Bearer ${globalKey}`);
    expect(initech.request.body.model).toBe('tenant-gpt');
    expect(systemOf(initech.request)).toContain('in French (fr)');
  });

  it('picks up changed, rotated and cleared settings without a restart', async () => {
    const own = { model: 'tenant-gpt', baseUrl: tenantFake.url, apiKey: tenantKey, language: 'de' };
    expect((await putModel('soylent', own)).statusCode).toBe(200);
    expect((await putModel('soylent', { model: 'tenant-gpt-2', language: null })).json()).toMatchObject({
      model: 'tenant-gpt-2',
      language: null,
      apiKeySet: true,
    });
    const changed = await enhanced('soylent', 'A-2', 'VPN drops every hour');
    expect(changed.server).toBe('tenant');
    expect(changed.request.body.model).toBe('tenant-gpt-2');
    expect(systemOf(changed.request)).not.toContain('German');

    // Rotated by another process (the CLI): the worker's registry sees it once its cache entry ages out.
    const elsewhere = await TenantRegistry.connect(t.config);
    await elsewhere.changeModelSettings('soylent', (current) => applyModelChange(current, { apiKey: rotatedKey }));
    await elsewhere.close();
    await waitFor(async () => (await t.services.registry.get('soylent'))?.model?.apiKey === rotatedKey, {
      message: 'the worker sees the rotated key',
    });
    const rotated = await enhanced('soylent', 'A-3', 'Laptop will not boot');
    expect(rotated.request.authorization).toBe(`Bearer ${rotatedKey}`);

    const cleared = await running.app.inject({
      method: 'DELETE',
      url: '/v1/admin/tenants/soylent/model',
      headers: admin,
    });
    expect(cleared.statusCode).toBe(204);
    const global = await enhanced('soylent', 'A-4', 'Screen flickers');
    expect(global.server).toBe('global');
    expect(global.request.authorization).toBe(`Bearer ${globalKey}`);
    expect(global.enhancement).toMatchObject({ model: 'global-gpt' });
  });

  it('refuses invalid settings with a 400 naming the field, never echoing a key', async () => {
    const cases: [unknown, RegExp][] = [
      [{}, /at least one of model, baseUrl, apiKey, language/],
      [{ baseUrl: 'ftp://models.example/v1', apiKey: tenantKey }, /baseUrl: expected an http:\/\/ or https:\/\/ URL/],
      [{ baseUrl: 'https://user:pw@models.example/v1', apiKey: tenantKey }, /baseUrl: must not carry credentials/],
      [{ baseUrl: 'https://models.example/v1' }, /apiKey: a baseUrl needs the tenant's own apiKey/],
      [{ language: 'xx' }, /language: is not a known language code/],
      [{ language: 'German' }, /language: expected a language code/],
      [{ model: 'gpt 4' }, /model: expected 1 to 200 letters/],
      [{ apiKey: 'sk has spaces secret-value' }, /apiKey: expected 1 to 4096 printable characters/],
      [{ temperature: 2 }, /Unrecognized key/],
    ];
    for (const [payload, message] of cases) {
      const response = await putModel('globex', payload);
      expect(response.statusCode, JSON.stringify(payload)).toBe(400);
      expect(response.json()).toMatchObject({
        error: { code: 'BAD_REQUEST', message: expect.stringMatching(message) },
      });
      expect(response.body).not.toContain('secret-value');
      expect(response.body).not.toContain(tenantKey);
    }
    expect((await putModel('nobody', { model: 'x' })).statusCode).toBe(404);
    expect(
      (await running.app.inject({ method: 'GET', url: '/v1/admin/tenants/globex/model', headers: admin })).json(),
    ).toMatchObject({ model: null, apiKeySet: false });
  });
});

describe('streamdesk tenant model', () => {
  const cli = (...args: string[]) => runCli(['tenant', 'model', ...args], t.env);
  const withStdin = (input: string, ...args: string[]) =>
    new Promise<CliResult>((resolve) => {
      const child = spawnCli(['tenant', 'model', ...args], t.env);
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.on('exit', (code) => resolve({ code, stdout, stderr }));
      child.stdin.end(input);
    });

  it('sets, shows and clears settings without ever printing the key', async () => {
    const set = await cli(
      'set',
      'hooli',
      '--model',
      'tenant-gpt',
      '--base-url',
      tenantFake.url,
      '--api-key',
      tenantKey,
      '--language',
      'pt-BR',
      '--json',
    );
    expect(set.code, set.stderr).toBe(0);
    expect(JSON.parse(set.stdout)).toEqual({
      tenant: 'hooli',
      model: 'tenant-gpt',
      baseUrl: tenantFake.url,
      language: 'pt-BR',
      apiKeySet: true,
    });
    const rotated = await withStdin(`${rotatedKey}\n`, 'set', 'hooli', '--api-key-stdin', '--unset', 'model');
    expect(rotated.code, rotated.stderr).toBe(0);
    expect(rotated.stdout).toMatch(/^hooli\tmodel=\(global\)\tbaseUrl=\S+\tapiKey=set\tlanguage=pt-BR\n$/);
    const shown = await cli('show', 'hooli');
    expect(shown.stdout).toContain('apiKey=set');
    expect((await t.services.registry.changeModelSettings('hooli', (current) => current)).model?.apiKey).toBe(
      rotatedKey,
    );
    for (const output of [set, rotated, shown]) expect(output.stdout + output.stderr).not.toMatch(/sk-/);

    const cleared = await cli('clear', 'hooli');
    expect(cleared.code).toBe(0);
    expect(JSON.parse((await cli('show', 'hooli', '--json')).stdout)).toMatchObject({
      model: null,
      apiKeySet: false,
    });
  });

  it('refuses invalid settings with a usage error', async () => {
    for (const [args, message] of [
      [
        ['set', 'initech', '--base-url', 'https://models.example/v1'],
        /apiKey: a baseUrl needs the tenant's own apiKey/,
      ],
      [['set', 'initech', '--language', 'xx'], /--language: is not a known language code/],
      [['set', 'initech', '--api-key', 'bad key secret-value'], /--api-key: expected 1 to 4096 printable characters/],
      [['set', 'initech'], /give at least one of/],
      [['set', 'initech', '--unset', 'temperature'], /--unset takes model, base-url, api-key or language/],
      [['frob', 'initech'], /tenant model needs a subcommand/],
    ] as const) {
      const result = await cli(...args);
      expect(result.code, result.stderr).toBe(2);
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
      expect(result.stderr).toMatch(message);
      expect(result.stderr).not.toContain('secret-value');
    }
  });
});

describe('enhancers per tenant', () => {
  const global = { apiKey: undefined, baseUrl: undefined, model: 'global-gpt', timeoutMs: 1_000 };
  const settings = new Map<string, TenantModelSettings>();
  const tenants = (id: string) =>
    Promise.resolve(settings.has(id) ? ({ id, model: settings.get(id) } as Tenant) : undefined);
  const gates: string[] = [];
  const enhancers = new TenantEnhancers({
    global,
    tenant: tenants,
    gate: (provider) => (
      gates.push(provider),
      new ProviderGate(t.services.redis, t.services.keys, provider, t.config.llmLimits, 5_000)
    ),
    offline: offlineEnhancer,
  });

  it('falls back to the offline enhancer when neither the tenant nor the global settings have a key', async () => {
    expect(await enhancers.forTenant('plain')).toBe(offlineEnhancer);
    settings.set('plain', { model: 'tenant-gpt', language: 'de' });
    expect(await enhancers.forTenant('plain')).toBe(offlineEnhancer);
  });

  it('keeps one enhancer per distinct settings and makes a new one when they change', async () => {
    settings.set('one', { apiKey: tenantKey, model: 'tenant-gpt' });
    settings.set('two', { apiKey: tenantKey, model: 'tenant-gpt' });
    const first = await enhancers.forTenant('one');
    expect(first).not.toBe(offlineEnhancer);
    expect(await enhancers.forTenant('one')).toBe(first);
    expect(await enhancers.forTenant('two')).toBe(first);
    settings.set('one', { apiKey: rotatedKey, model: 'tenant-gpt' });
    expect(await enhancers.forTenant('one')).not.toBe(first);
    // Two accounts on one model: two gates.
    expect(new Set(gates).size).toBe(2);
    expect(gates.join()).not.toContain('sk-');
  });
});

describe('sealing', () => {
  it('reseals the model settings with a new encryption key', async () => {
    await t.services.registry.create({ id: 'rekeyed' });
    await t.services.registry.changeModelSettings('rekeyed', () => ({ model: 'tenant-gpt', apiKey: tenantKey }));
    const rawModel = async () =>
      (await t.services.redis.hgetall(`${t.services.keys.tenantEntityPrefix}:rekeyed`)).model ?? '';
    const firstKeyId = SecretBox.keyIdOf(await rawModel());
    const secondKey = 'b'.repeat(64);
    const rotated = await TenantRegistry.connect({
      ...t.config,
      secretsKey: secondKey,
      secretsPreviousKeys: [t.config.secretsKey!],
    });
    expect(await rotated.reseal()).toBeGreaterThanOrEqual(1);
    await rotated.close();
    expect(SecretBox.keyIdOf(await rawModel())).not.toBe(firstKeyId);
    const onlyNewKey = await TenantRegistry.connect({ ...t.config, secretsKey: secondKey, secretsPreviousKeys: [] });
    expect((await onlyNewKey.get('rekeyed'))?.model).toEqual({ model: 'tenant-gpt', apiKey: tenantKey });
    await onlyNewKey.close();
    // Every tenant's settings sealed with the running workers' key again, for the tests that use them.
    const back = await TenantRegistry.connect({ ...t.config, secretsPreviousKeys: [secondKey] });
    await back.reseal();
    await back.close();
  });
});
