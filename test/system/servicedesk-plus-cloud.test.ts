import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWritebackStage } from '../../src/consumers/stages/writeback.js';
import { checkNewWritebackTarget } from '../../src/consumers/writeback/target-policy.js';
import { ZohoTokenCache } from '../../src/consumers/writeback/zoho-oauth.js';
import { redisTokenStore } from '../../src/consumers/writeback/zoho-token-store.js';
import type { TicketEvent, TicketEventOf } from '../../src/events.js';
import { startRole } from '../../src/runtime/roles.js';
import { listDeadLetters } from '../../src/streams/dlq.js';
import { uuidv7 } from '../../src/streams/ids.js';
import { publicTenant, type WritebackTarget } from '../../src/tenants/registry.js';
import { SecretBox } from '../../src/tenants/secret-box.js';
import { runCli } from '../support/child.js';
import { ingestApp } from '../support/app.js';
import { createTestEnv, waitFor, type TestEnv } from '../support/env.js';
import { appendEvent, readStream } from '../support/events.js';
import { sampleEnhancement } from '../support/fake-openai.js';
import { startFakeZoho, type FakeZoho, type ZohoClient } from '../support/fake-zoho.js';
import { rejection } from '../support/rejection.js';
import { capturingLogger } from '../support/log.js';

const secret = (name: string) => `${name}-${randomBytes(12).toString('hex')}`;
const client = (name: string): ZohoClient => ({
  clientId: `1000.${name.toUpperCase()}CLIENT`,
  clientSecret: secret(`${name}-client-secret`),
  refreshTokens: [secret(`1000.${name}-refresh`)],
});
const clients = {
  main: client('main'),
  reuse: client('reuse'),
  shared: client('shared'),
  expiry: client('expiry'),
  refused: client('refused'),
  revoked: client('revoked'),
  outage: client('outage'),
  rotated: client('rotated'),
  cli: client('cli'),
  logs: client('logs'),
};
const allSecrets = Object.values(clients).flatMap((entry) => [entry.clientSecret, ...entry.refreshTokens]);

let t: TestEnv;
let zoho: FakeZoho;
const logLines: string[] = [];
const log = capturingLogger(logLines);

function cloudTarget(entry: ZohoClient, refreshToken = entry.refreshTokens[0] ?? ''): WritebackTarget {
  return {
    type: 'servicedesk-plus',
    baseUrl: zoho.baseUrl,
    auth: {
      type: 'zoho-oauth',
      accountsUrl: zoho.accountsUrl,
      clientId: entry.clientId,
      clientSecret: entry.clientSecret,
      refreshToken,
    },
  };
}

beforeAll(async () => {
  zoho = await startFakeZoho(Object.values(clients));
  t = await createTestEnv({
    SECRETS_ENCRYPTION_KEY: randomBytes(32).toString('hex'),
    RETRY_BASE_MS: '20',
    RETRY_MAX_MS: '100',
  });
  for (const [name, entry] of Object.entries(clients)) {
    if (name === 'revoked')
      await t.services.registry.create({ id: name, writeback: cloudTarget(entry, secret('1000.revoked-refresh')) });
    else if (name !== 'cli') await t.services.registry.create({ id: name, writeback: cloudTarget(entry) });
  }
});

afterAll(async () => {
  await t?.cleanup();
  await zoho?.close();
});

function enhanced(tenant: string, ticket: string): TicketEventOf<'ticket.enhanced'> {
  const correlation = uuidv7();
  return {
    id: uuidv7(),
    type: 'ticket.enhanced',
    v: 1,
    tenant,
    ticket,
    ts: Date.now(),
    causation: correlation,
    correlation,
    traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
    data: { enhancement: sampleEnhancement, model: 'fake-gpt', tokens: { prompt: 10, completion: 5 }, latencyMs: 12 },
  };
}

/** A worker's write-back stage: its own in-process token cache, and the tokens shared through Redis. */
const newStage = () =>
  createWritebackStage({
    db: t.services.db,
    registry: t.services.registry,
    timeoutMs: 2_000,
    targetPolicy: { allowPrivate: true },
    sharedTokens: redisTokenStore(
      t.services.redis,
      t.services.keys,
      new SecretBox(t.config.secretsKey, t.config.secretsPreviousKeys),
    ),
  });
const run = (writeback: ReturnType<typeof newStage>, event: TicketEventOf<'ticket.enhanced'>) =>
  writeback.handle(event, { tenant: event.tenant, attempt: 1, signal: new AbortController().signal, log });
const tokenRequestsOf = (entry: ZohoClient) =>
  zoho.tokenRequests.filter((request) => request.form.get('client_id') === entry.clientId);
const notesTo = (ticket: string) =>
  zoho.noteRequests.filter((request) => request.path.endsWith(`/requests/${ticket}/notes`));

describe('write-back to ServiceDesk Plus Cloud with Zoho OAuth', () => {
  it('buys an access token with the refresh token and posts the note with Authorization: Zoho-oauthtoken', async () => {
    // Other tests buy tokens with the main client's id too (its own cache, a wrong secret).
    const before = tokenRequestsOf(clients.main).length;
    const [emitted] = await run(newStage(), enhanced('main', '7001'));
    const [tokenRequest, ...moreTokens] = tokenRequestsOf(clients.main).slice(before);
    expect(moreTokens).toEqual([]);
    expect(tokenRequest?.path).toBe('/oauth/v2/token');
    // The credentials travel in the form body, not in the URL.
    expect(tokenRequest?.query).toBe('');
    expect(Object.fromEntries(tokenRequest?.form ?? [])).toEqual({
      grant_type: 'refresh_token',
      client_id: clients.main.clientId,
      client_secret: clients.main.clientSecret,
      refresh_token: clients.main.refreshTokens[0],
    });
    const [note, ...moreNotes] = notesTo('7001');
    expect(moreNotes).toEqual([]);
    expect(note?.path).toBe('/app/itdesk/api/v3/requests/7001/notes');
    expect(note?.authorization).toMatch(/^Zoho-oauthtoken 1000\.access-\d+\./);
    expect(note?.accept).toBe('application/vnd.manageengine.sdp.v3+json');
    expect(note?.contentType).toMatch(/^application\/x-www-form-urlencoded/);
    expect(note?.inputData).toEqual({
      request_note: {
        description: expect.stringContaining(sampleEnhancement.summary),
        show_to_requester: false,
        mark_first_response: false,
        add_to_linked_requests: false,
      },
    });
    expect(emitted).toMatchObject({
      type: 'ticket.written_back',
      data: { target: 'servicedesk-plus', status: 201, noteId: expect.stringMatching(/^\d+$/) },
    });
  });

  it('reuses one access token for many notes, written at once and one after another', async () => {
    const writeback = newStage();
    await Promise.all(
      ['7101', '7102', '7103', '7104', '7105'].map((ticket) => run(writeback, enhanced('reuse', ticket))),
    );
    for (const ticket of ['7106', '7107', '7108']) await run(writeback, enhanced('reuse', ticket));
    expect(tokenRequestsOf(clients.reuse)).toHaveLength(1);
    const authorizations = new Set(
      zoho.noteRequests
        .filter((request) => request.authorization?.endsWith(clients.reuse.clientId))
        .map((request) => request.authorization),
    );
    expect(authorizations.size).toBe(1);
  });

  it('shares the token between workers through Redis, sealed', async () => {
    await run(newStage(), enhanced('shared', '7151'));
    await Promise.all(['7152', '7153'].map((ticket) => run(newStage(), enhanced('shared', ticket))));
    expect(tokenRequestsOf(clients.shared)).toHaveLength(1);
    const token = notesTo('7151')[0]?.authorization?.replace('Zoho-oauthtoken ', '') ?? '';
    expect(token).toMatch(/^1000\.access-/);
    expect(notesTo('7153')[0]?.authorization).toBe(`Zoho-oauthtoken ${token}`);
    const stored = (await t.services.redis.get(t.services.keys.zohoAccessToken('shared'))) ?? '';
    expect(stored).toMatch(/^enc:v1:/);
    expect(stored).not.toContain(token);
    expect(await t.services.redis.pttl(t.services.keys.zohoAccessToken('shared'))).toBeGreaterThan(0);
  });

  it('keeps a token until two minutes before it expires, then buys the next', async () => {
    let now = Date.now();
    const cache = new ZohoTokenCache({ clock: () => now });
    const target = cloudTarget(clients.main);
    if (target.type !== 'servicedesk-plus' || !target.auth) throw new Error('expected a Zoho OAuth target');
    const options = {
      tenant: 'clock',
      timeoutMs: 2_000,
      signal: new AbortController().signal,
      targetPolicy: { allowPrivate: true },
    };
    const before = tokenRequestsOf(clients.main).length;
    const first = await cache.get(target.auth, options);
    now += 3_600_000 - 121_000;
    expect(await cache.get(target.auth, options)).toBe(first);
    now += 2_000;
    expect(await cache.get(target.auth, options)).not.toBe(first);
    expect(tokenRequestsOf(clients.main)).toHaveLength(before + 2);
  });

  it('on a 401 buys one new token and retries the note once', async () => {
    const writeback = newStage();
    await run(writeback, enhanced('expiry', '7201'));
    expect(tokenRequestsOf(clients.expiry)).toHaveLength(1);
    // Zoho revoked or expired every token it had issued.
    zoho.validTokens.clear();
    const [emitted] = await run(writeback, enhanced('expiry', '7202'));
    expect(emitted).toMatchObject({ type: 'ticket.written_back', data: { status: 201 } });
    expect(tokenRequestsOf(clients.expiry)).toHaveLength(2);
    const [refused, retried, ...more] = notesTo('7202');
    expect(more).toEqual([]);
    expect(refused?.authorization).not.toBe(retried?.authorization);
  });

  it('when the new token is turned down too, gives up after that one retry with WRITEBACK_REJECTED', async () => {
    const writeback = newStage();
    await run(writeback, enhanced('refused', '7301'));
    const before = tokenRequestsOf(clients.refused).length;
    // The portal turns down every token, old and new (e.g. the self client lacks the scope).
    zoho.portalRefusesTokens = true;
    try {
      const error = await rejection(run(writeback, enhanced('refused', '7302')));
      expect(error).toMatchObject({ code: 'WRITEBACK_REJECTED', retryable: false });
      expect(error.message).toContain('401');
    } finally {
      zoho.portalRefusesTokens = false;
    }
    expect(tokenRequestsOf(clients.refused)).toHaveLength(before + 1);
    expect(notesTo('7302')).toHaveLength(2);
  });

  it('a Zoho outage or rate limit is retryable (WRITEBACK_FAILED) and posts no note', async () => {
    for (const mode of ['server-error', 'rate-limited'] as const) {
      zoho.mode = mode;
      try {
        const error = await rejection(run(newStage(), enhanced('outage', `7401-${mode}`)));
        expect(error).toMatchObject({ code: 'WRITEBACK_FAILED', retryable: true });
        for (const value of allSecrets) expect(error.message).not.toContain(value);
      } finally {
        zoho.mode = 'grant';
      }
      expect(notesTo(`7401-${mode}`)).toEqual([]);
    }
    expect((await run(newStage(), enhanced('outage', '7402')))[0]).toMatchObject({ data: { status: 201 } });
  });

  it('a wrong client id or client secret is WRITEBACK_AUTH_FAILED, naming which and how to fix it', async () => {
    const wrongSecret = secret('wrong-client-secret');
    allSecrets.push(wrongSecret);
    const cases = [
      [
        'wrong-client',
        { ...clients.main, clientId: '1000.UNKNOWNCLIENT' },
        'does not know client id 1000.UNKNOWNCLIENT (invalid_client)',
      ],
      ['wrong-secret', { ...clients.main, clientSecret: wrongSecret }, 'refused the client secret'],
    ] as const;
    for (const [tenant, entry, says] of cases) {
      await t.services.registry.create({ id: tenant, writeback: cloudTarget(entry) });
      const error = await rejection(run(newStage(), enhanced(tenant, `7450-${tenant}`)));
      expect(error).toMatchObject({ code: 'WRITEBACK_AUTH_FAILED', retryable: false });
      expect(error.message).toContain(says);
      expect(error.message).toContain(`streamdesk tenant update ${tenant} --writeback-json`);
      for (const value of allSecrets) expect(error.message).not.toContain(value);
      expect(notesTo(`7450-${tenant}`)).toEqual([]);
    }
  });

  it('an invalid refresh token dead-letters at once with WRITEBACK_AUTH_FAILED and a fix, and no secret in the letter, the event or the logs', async () => {
    const lines: string[] = [];
    const logger = capturingLogger(lines, 'info');
    const running = await startRole(
      'worker',
      { ...t.services, logger },
      { listen: false, runnerOverrides: { blockMs: 50, tenantRefreshMs: 50 } },
    );
    try {
      await appendEvent(t.services, enhanced('revoked', '7501') as TicketEvent);
      const [letter] = await waitFor(
        async () => {
          const letters = await listDeadLetters(t.services.redis, t.services.keys, 'revoked');
          return letters.length > 0 ? letters : undefined;
        },
        { message: 'the write-back dead-lettered' },
      );
      expect(letter).toMatchObject({ group: 'writeback', code: 'WRITEBACK_AUTH_FAILED' });
      expect(JSON.stringify(letter)).toContain('streamdesk tenant rotate-helpdesk-key revoked --key');
      const failed = await waitFor(
        async () => (await readStream(t.services, 'revoked')).find(([, fields]) => fields.type === 'ticket.failed'),
        { message: 'ticket.failed appended' },
      );
      expect(JSON.parse(failed[1].data ?? '{}')).toMatchObject({ error: { code: 'WRITEBACK_AUTH_FAILED' } });
      const stored = (await t.services.registry.get('revoked'))?.writeback;
      const storedSecrets =
        stored?.type === 'servicedesk-plus' && stored.auth ? [stored.auth.clientSecret, stored.auth.refreshToken] : [];
      expect(storedSecrets).toHaveLength(2);
      for (const text of [JSON.stringify(letter), JSON.stringify(failed), lines.join('')]) {
        for (const value of [...storedSecrets, ...allSecrets]) expect(text).not.toContain(value);
      }
      expect(lines.join('')).toContain('WRITEBACK_AUTH_FAILED');
      // Permanent: one refusal, no retries, no note.
      expect(tokenRequestsOf(clients.revoked)).toHaveLength(1);
      expect(notesTo('7501')).toEqual([]);
    } finally {
      await running.stop();
    }
  });
});

describe('credentials in logs', () => {
  it('never puts a client secret or a refresh token in a log line, whatever Zoho answers', async () => {
    const from = logLines.length;
    const writeback = newStage();
    const delivered = enhanced('logs', '7801');
    await run(writeback, delivered);
    await run(writeback, delivered); // a redelivery: logged as already written back
    const errors: Error[] = [];
    zoho.portalRefusesTokens = true;
    try {
      errors.push(await rejection(run(writeback, enhanced('logs', '7802'))));
    } finally {
      zoho.portalRefusesTokens = false;
    }
    // A tenant of its own, so that no token is cached yet and the outage is met.
    await t.services.registry.create({ id: 'logs-outage', writeback: cloudTarget(clients.logs) });
    zoho.mode = 'server-error';
    try {
      errors.push(await rejection(run(newStage(), enhanced('logs-outage', '7803'))));
    } finally {
      zoho.mode = 'grant';
    }
    const wrongSecret = secret('logs-wrong-client-secret');
    allSecrets.push(wrongSecret);
    await t.services.registry.create({
      id: 'logs-wrong-secret',
      writeback: cloudTarget({ ...clients.logs, clientSecret: wrongSecret }),
    });
    errors.push(await rejection(run(newStage(), enhanced('logs-wrong-secret', '7804'))));
    const logged = logLines.slice(from).join('');
    expect(logged).toContain('already written back');
    for (const text of [logged, ...errors.map((error) => error.message)])
      for (const value of allSecrets) expect(text).not.toContain(value);
  });
});

describe('the Cloud target as stored and administered', () => {
  it('seals the client secret and refresh token in Redis and never shows them', async () => {
    const raw = JSON.stringify(await t.services.redis.hgetall(`${t.services.keys.tenantEntityPrefix}:main`));
    expect(raw).toContain('enc:v1:');
    for (const value of [
      clients.main.clientSecret,
      clients.main.refreshTokens[0] ?? '',
      clients.main.clientId,
      zoho.accountsUrl,
    ])
      expect(raw).not.toContain(value);
    const tenant = await t.services.registry.get('main');
    expect(tenant?.writeback).toEqual(cloudTarget(clients.main));
    const shown = JSON.stringify(publicTenant(tenant!));
    for (const value of allSecrets) expect(shown).not.toContain(value);
  });

  it('rotate-helpdesk-key replaces the refresh token, and the next note uses it', async () => {
    const writeback = newStage();
    await run(writeback, enhanced('rotated', '7601'));
    const replacement = secret('1000.rotated-refresh-2');
    clients.rotated.refreshTokens.push(replacement);
    allSecrets.push(replacement);
    await t.services.registry.rotateHelpdeskKey('rotated', replacement);
    const tenant = await t.services.registry.get('rotated');
    expect(tenant?.writeback).toEqual(cloudTarget(clients.rotated, replacement));
    await run(writeback, enhanced('rotated', '7602'));
    expect(tokenRequestsOf(clients.rotated).map((request) => request.form.get('refresh_token'))).toEqual([
      clients.rotated.refreshTokens[0],
      replacement,
    ]);
  });

  it('the admin API and the CLI accept the OAuth target, and refuse half of one or an internal accounts server', async () => {
    const { services } = t;
    const app = await ingestApp(t.config, services);
    const create = (id: string, writeback: unknown) =>
      app.inject({
        method: 'POST',
        url: '/v1/admin/tenants',
        headers: { authorization: 'Bearer test-admin-token-0123456789' },
        payload: { id, writeback },
      });
    try {
      expect((await create('api-cloud', cloudTarget(clients.main))).statusCode).toBe(201);
      const listed = await app.inject({
        method: 'GET',
        url: '/v1/admin/tenants/api-cloud',
        headers: { authorization: 'Bearer test-admin-token-0123456789' },
      });
      expect(listed.json().writeback).toEqual({ type: 'servicedesk-plus' });
      for (const value of allSecrets) expect(listed.body).not.toContain(value);
      const both = { ...cloudTarget(clients.main), authToken: 'technician-key' };
      const { auth: _auth, ...neither } = cloudTarget(clients.main) as Extract<
        WritebackTarget,
        { type: 'servicedesk-plus' }
      >;
      const noSecret = {
        ...cloudTarget(clients.main),
        auth: { type: 'zoho-oauth', accountsUrl: zoho.accountsUrl, clientId: 'x', refreshToken: 'y' },
      };
      for (const [index, writeback] of [both, neither, noSecret].entries()) {
        const response = await create(`api-bad-${index}`, writeback);
        expect(response.statusCode).toBe(400);
        expect(response.json().error.code).toBe('BAD_REQUEST');
        for (const value of allSecrets) expect(response.body).not.toContain(value);
      }
    } finally {
      await app.close();
    }
    const internalAccounts = {
      ...cloudTarget(clients.main),
      baseUrl: 'https://93.184.216.34/app/itdesk',
    } as WritebackTarget;
    if (internalAccounts.type === 'servicedesk-plus' && internalAccounts.auth)
      internalAccounts.auth.accountsUrl = 'http://169.254.169.254/';
    await expect(checkNewWritebackTarget(internalAccounts, { allowPrivate: false })).rejects.toMatchObject({
      code: 'WRITEBACK_TARGET_REFUSED',
    });

    const created = await runCli(
      ['tenant', 'create', 'cli', '--writeback-json', JSON.stringify(cloudTarget(clients.cli)), '--json'],
      t.env,
    );
    expect(created.code, created.stderr).toBe(0);
    expect((await t.services.registry.get('cli'))?.writeback).toEqual(cloudTarget(clients.cli));
    const [emitted] = await run(newStage(), enhanced('cli', '7701'));
    expect(emitted).toMatchObject({ data: { status: 201 } });
    const replacement = secret('1000.cli-refresh-2');
    allSecrets.push(replacement);
    const rotated = await runCli(['tenant', 'rotate-helpdesk-key', 'cli', '--key', replacement], t.env);
    expect(rotated.stdout).toContain('Replaced the servicedesk-plus Zoho OAuth refresh token of cli');
    for (const value of allSecrets)
      expect(created.stdout + created.stderr + rotated.stdout + rotated.stderr).not.toContain(value);
  });
});
