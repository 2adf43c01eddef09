import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { createWritebackStage } from '../../src/consumers/stages/writeback.js';
import { checkTargetAddress, checkTargetUrl, type TargetPolicy } from '../../src/consumers/writeback/target-policy.js';
import { redactCredentials } from '../../src/errors.js';
import type { TicketEvent, TicketEventOf } from '../../src/events.js';
import { startRole } from '../../src/runtime/roles.js';
import { listDeadLetters } from '../../src/streams/dlq.js';
import { uuidv7 } from '../../src/streams/ids.js';
import { ingestApp } from '../support/app.js';
import { createTestEnv, waitFor, type TestEnv } from '../support/env.js';
import { appendEvent, readStream } from '../support/events.js';
import { sampleEnhancement } from '../support/fake-openai.js';
import { startFakeHelpdesk, type FakeHelpdesk } from '../support/fake-helpdesk.js';
import { rejection } from '../support/rejection.js';
import { capturingLogger } from '../support/log.js';
import { pino } from 'pino';

const strict: TargetPolicy = { allowPrivate: false };
const internalTargets = [
  'http://127.0.0.1:3000/',
  'http://127.1/',
  'http://2130706433/',
  'http://0x7f000001/',
  'http://0177.0.0.1/',
  'http://169.254.169.254/latest/meta-data/',
  'http://0251.0376.0251.0376/',
  'http://2852039166/',
  'http://10.0.0.5/',
  'http://172.16.1.1/',
  'http://192.168.0.10/',
  'http://100.64.0.1/',
  'http://0.0.0.0/',
  'http://[::1]/',
  'http://[::]/',
  'http://[fe80::1]/',
  'http://[fd12:3456::1]/',
  'http://[::ffff:127.0.0.1]/',
  'http://[::ffff:a9fe:a9fe]/',
  'http://localhost:3000/',
  'http://LOCALHOST./',
  'http://api.localhost/',
];

let t: TestEnv;
let helpdesk: FakeHelpdesk;
const logLines: string[] = [];

beforeAll(async () => {
  helpdesk = await startFakeHelpdesk();
  t = await createTestEnv({ WRITEBACK_ALLOW_PRIVATE: 'false', RETRY_BASE_MS: '10', RETRY_MAX_MS: '50' });
});

afterAll(async () => {
  await t?.cleanup();
  await helpdesk?.close();
});

function enhanced(tenant: string, ticket: string): TicketEventOf<'ticket.enhanced'> {
  const id = uuidv7();
  return {
    id,
    type: 'ticket.enhanced',
    v: 1,
    tenant,
    ticket,
    ts: Date.now(),
    causation: id,
    correlation: id,
    traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
    data: { enhancement: sampleEnhancement, model: 'fake-gpt', tokens: { prompt: 1, completion: 1 }, latencyMs: 1 },
  };
}

describe('the target check', () => {
  it.each(internalTargets)('refuses %s unless private targets are allowed', (url) => {
    expect(() => checkTargetUrl(url, strict)).toThrow(expect.objectContaining({ code: 'WRITEBACK_TARGET_REFUSED' }));
    expect(() => checkTargetUrl(url, { allowPrivate: true })).not.toThrow();
  });

  it('accepts public addresses and names, and refuses credentials in the URL even when private targets are allowed', async () => {
    for (const url of ['https://93.184.216.34/api', 'http://8.8.8.8:8080/', 'https://[2606:4700:4700::1111]/'])
      expect(() => checkTargetUrl(url, strict)).not.toThrow();
    await expect(
      checkTargetAddress('https://helpdesk.example.com/', {
        allowPrivate: false,
        resolve: async () => ['93.184.216.34'],
      }),
    ).resolves.toBeInstanceOf(URL);
    for (const policy of [strict, { allowPrivate: true }]) {
      const error = await rejection(checkTargetAddress('https://admin:hunter2-pw@helpdesk.example.com/', policy));
      expect(error.code).toBe('WRITEBACK_TARGET_REFUSED');
      expect(error.message).not.toContain('hunter2-pw');
    }
  });

  it('refuses a name when any address it resolves to is internal', async () => {
    const resolvesTo = (...addresses: string[]): TargetPolicy => ({
      allowPrivate: false,
      resolve: async () => addresses,
    });
    expect(
      (
        await rejection(
          checkTargetAddress('https://helpdesk.example.com/', resolvesTo('93.184.216.34', '169.254.169.254')),
        )
      ).code,
    ).toBe('WRITEBACK_TARGET_REFUSED');
    expect(
      (await rejection(checkTargetAddress('https://helpdesk.example.com/', resolvesTo('::ffff:10.0.0.1')))).code,
    ).toBe('WRITEBACK_TARGET_REFUSED');
    // The system resolver: this host's own name is not a public address.
    expect((await rejection(checkTargetAddress('http://localhost./', strict))).code).toBe('WRITEBACK_TARGET_REFUSED');
  });

  it('redacts user info and secret-looking query values from error text', () => {
    const text = redactCredentials(
      'could not connect to http://admin:p%40ss@helpdesk.example.com/api?authtoken=ABC123&page=2 (ECONNREFUSED)',
    );
    expect(text).toBe(
      'could not connect to http://[redacted]@helpdesk.example.com/api?authtoken=[redacted]&page=2 (ECONNREFUSED)',
    );
  });
});

describe('at creation', () => {
  it('the admin API refuses internal targets and credentials in the URL with 400 WRITEBACK_TARGET_REFUSED, and creates nothing', async () => {
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
      const targets = [
        { type: 'webhook', url: 'http://169.254.169.254/latest/meta-data/', secret: 'hook-secret-0123456789' },
        { type: 'servicedesk-plus', baseUrl: 'http://2130706433:3000/', authToken: 't' },
        { type: 'servicedesk-plus', baseUrl: 'https://admin:hunter2-pw@93.184.216.34/', authToken: 't' },
      ];
      for (const [index, writeback] of targets.entries()) {
        const response = await create(`refused-${index}`, writeback);
        expect(response.statusCode).toBe(400);
        expect(response.json().error.code).toBe('WRITEBACK_TARGET_REFUSED');
        expect(response.body).not.toContain('hunter2-pw');
        expect(await services.registry.get(`refused-${index}`)).toBeUndefined();
      }
      expect(
        (await create('public', { type: 'servicedesk-plus', baseUrl: 'https://93.184.216.34/', authToken: 't' }))
          .statusCode,
      ).toBe(201);
    } finally {
      await app.close();
    }
  });

  it('a tenant update is checked the same way, and a refused one leaves the target as it was', async () => {
    const { services } = t;
    const app = await ingestApp(t.config, services);
    const publicTarget = { type: 'servicedesk-plus', baseUrl: 'https://93.184.216.34/', authToken: 't' } as const;
    await services.registry.create({ id: 'updated-target', writeback: publicTarget });
    try {
      const response = await app.inject({
        method: 'PATCH',
        url: '/v1/admin/tenants/updated-target',
        headers: { authorization: 'Bearer test-admin-token-0123456789' },
        payload: {
          writeback: {
            type: 'webhook',
            url: 'http://169.254.169.254/latest/meta-data/',
            secret: 'hook-secret-0123456789',
          },
        },
      });
      expect(response.statusCode).toBe(400);
      expect(response.json().error.code).toBe('WRITEBACK_TARGET_REFUSED');
      expect((await services.registry.get('updated-target'))?.writeback).toMatchObject({
        type: 'servicedesk-plus',
        baseUrl: 'https://93.184.216.34/',
      });
    } finally {
      await app.close();
    }
    const json = JSON.stringify({ type: 'servicedesk-plus', baseUrl: 'http://0x7f000001/', authToken: 't' });
    expect((await rejection(main(['tenant', 'update', 'updated-target', '--writeback-json', json]))).code).toBe(
      'WRITEBACK_TARGET_REFUSED',
    );
  });

  it('the CLI refuses them before connecting to anything', async () => {
    const json = JSON.stringify({
      type: 'webhook',
      url: 'http://[::ffff:169.254.169.254]/',
      secret: 'hook-secret-0123456789',
    });
    const error = await rejection(main(['tenant', 'create', 'cli-refused', '--writeback-json', json]));
    expect(error.code).toBe('WRITEBACK_TARGET_REFUSED');
  });
});

describe('at call time', () => {
  it('refuses a stored target that now points inside, after DNS resolution, without calling it', async () => {
    await t.services.registry.create({
      id: 'rebound',
      writeback: { type: 'webhook', url: 'http://helpdesk.example.com/notes', secret: 'hook-secret-0123456789' },
    });
    await t.services.registry.create({
      id: 'local',
      writeback: { type: 'servicedesk-plus', baseUrl: helpdesk.url, authToken: 'sdp-token' },
    });
    const log = pino({ level: 'silent' });
    const run = (tenant: string, targetPolicy: TargetPolicy) =>
      createWritebackStage({ db: t.services.db, registry: t.services.registry, targetPolicy }).handle(
        enhanced(tenant, `${tenant}-1`),
        { tenant, attempt: 1, signal: new AbortController().signal, log },
      );
    const rebound = await rejection(run('rebound', { allowPrivate: false, resolve: async () => ['169.254.169.254'] }));
    expect(rebound).toMatchObject({ code: 'WRITEBACK_TARGET_REFUSED', retryable: false });
    expect((await rejection(run('local', strict))).code).toBe('WRITEBACK_TARGET_REFUSED');
    expect(helpdesk.requests).toHaveLength(0);
    // The operator's explicit setting lets the same local helpdesk be called.
    expect((await run('local', { allowPrivate: true }))[0]).toMatchObject({
      type: 'ticket.written_back',
      data: { target: 'servicedesk-plus', status: 201 },
    });
    expect(helpdesk.requests).toHaveLength(1);
  });

  it('keeps credentials from a target URL out of the dead letter, the ticket.failed event and the logs', async () => {
    // Stored before creation was checked: the URL carries a password.
    await t.services.registry.create({
      id: 'userinfo',
      writeback: {
        type: 'servicedesk-plus',
        baseUrl: `http://admin:hunter2-pw@${new URL(helpdesk.url).host}/`,
        authToken: 'sdp-token',
      },
    });
    const logger = capturingLogger(logLines, 'info');
    const running = await startRole(
      'worker',
      { ...t.services, logger },
      { listen: false, runnerOverrides: { blockMs: 50, tenantRefreshMs: 50 } },
    );
    try {
      await appendEvent(t.services, enhanced('userinfo', 'U-1') as TicketEvent);
      const [letter] = await waitFor(
        async () => {
          const letters = await listDeadLetters(t.services.redis, t.services.keys, 'userinfo');
          return letters.length > 0 ? letters : undefined;
        },
        { message: 'the write-back dead-lettered' },
      );
      expect(letter).toMatchObject({ group: 'writeback', code: 'WRITEBACK_TARGET_REFUSED' });
      const failed = await waitFor(
        async () => (await readStream(t.services, 'userinfo')).find(([, fields]) => fields.type === 'ticket.failed'),
        { message: 'ticket.failed appended' },
      );
      expect(JSON.parse(failed[1].data!)).toMatchObject({ error: { code: 'WRITEBACK_TARGET_REFUSED' } });
      for (const text of [JSON.stringify(letter), JSON.stringify(failed), logLines.join('')])
        expect(text).not.toContain('hunter2-pw');
      expect(logLines.join('')).toContain('WRITEBACK_TARGET_REFUSED');
    } finally {
      await running.stop();
    }
  });
});
