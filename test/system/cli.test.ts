import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { dropTestData, isolatedEnv, uniqueId, waitFor } from '../support/env.js';
import { exitOf, listeningPort, runCli, spawnCli } from '../support/child.js';
import { signedHeaders, ticketBody } from '../support/webhook.js';
import { createRedis } from '../../src/streams/redis.js';
import { encodeEvent } from '../../src/events.js';
import { receivedEvent } from '../support/events.js';

// JavaScript of the k6 load test, imported by path so the type check leaves it alone.
const k6TicketModulePath = '../../loadtest/lib/ticket.js';

const env = isolatedEnv(uniqueId());
const config = loadConfig(env);

afterAll(async () => {
  await dropTestData(config);
});

describe('configuration', () => {
  it.each([
    ['PORT', 'not-a-port', /PORT: expected an integer between 0 and 65535 \(got "not-a-port"\)/],
    ['REDIS_URL', 'localhost:6379', /REDIS_URL: expected a URL starting with redis:\/\/ or rediss:\/\//],
    ['DATABASE_URL', 'mysql://x', /DATABASE_URL: expected a URL starting with postgres:\/\/ or postgresql:\/\//],
    ['ADMIN_TOKEN', 'short', /ADMIN_TOKEN: expected at least 16 characters$/m],
    ['MAX_ATTEMPTS', '0', /MAX_ATTEMPTS: expected an integer between 1 and 100/],
    ['SECRETS_ENCRYPTION_KEY', 'short', /SECRETS_ENCRYPTION_KEY: expected 32 bytes as 64 hex digits or base64$/m],
    [
      'LLM_PRICES',
      '{"gpt-4o": {"input": 2.5}}',
      /LLM_PRICES: expected JSON \{"<model>": \{"input": <USD per 1M tokens>, "output": <USD per 1M tokens>\}, …\} \(wrong at gpt-4o\.output\)/,
    ],
    ['LLM_REQUESTS_PER_MINUTE', '-5', /LLM_REQUESTS_PER_MINUTE: expected an integer between 0 and 100000000/],
  ])('a bad %s stops start-up with one line naming it', async (name, value, expected) => {
    const result = await runCli(['start'], { ...env, [name]: value });
    expect(result.code).toBe(1);
    const lines = result.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^streamdesk: Invalid configuration: /);
    expect(lines[0]).toMatch(expected);
    expect(result.stderr).not.toContain('short'); // secrets are never echoed
  });

  it('an unknown command or role is a usage error', async () => {
    expect((await runCli(['frobnicate'], env)).code).toBe(2);
    const badRole = await runCli(['start', '--role', 'everything'], env);
    expect(badRole.code).toBe(2);
    expect(badRole.stderr).toContain('--role must be one of all, ingest, worker, projector');
  });

  it('an unreachable Redis is one clear line, not a stack trace', async () => {
    const result = await runCli(['tenant', 'list'], { ...env, REDIS_URL: 'redis://127.0.0.1:1' });
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toMatch(/^streamdesk: Cannot reach Redis at redis:\/\/127\.0\.0\.1:1/);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });
});

describe('tenant commands', () => {
  it('creates a tenant, prints its secret once, and lists it without the secret', async () => {
    const created = await runCli(['tenant', 'create', 'cli-acme', '--name', 'ACME Corp', '--json'], env);
    expect(created.code).toBe(0);
    const { id, secret } = JSON.parse(created.stdout);
    expect(id).toBe('cli-acme');
    expect(secret).toMatch(/^whsec_/);
    const again = await runCli(['tenant', 'create', 'cli-acme'], env);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('already exists');
    const listed = await runCli(['tenant', 'list'], env);
    expect(listed.stdout).toContain('cli-acme\tACME Corp');
    expect(listed.stdout).not.toContain(secret);
  });
});

describe('tenant create --format k6', () => {
  it('prints the TENANTS line the k6 scripts read, for several signed tenants at once', async () => {
    const created = await runCli(['tenant', 'create', 'k6-one', 'k6-two', '--format', 'k6'], env);
    expect(created.code).toBe(0);
    const line = created.stdout.trim();
    expect(line).toMatch(/^k6-one:whsec_[^,\s]+,k6-two:whsec_[^,\s]+$/);
    const { parseTenants } = (await import(k6TicketModulePath)) as {
      parseTenants(spec: string): { id: string; secret: string }[];
    };
    expect(parseTenants(line).map((tenant) => tenant.id)).toEqual(['k6-one', 'k6-two']);
    const token = await runCli(['tenant', 'create', 'k6-three', '--format', 'k6', '--inbound-auth', 'token'], env);
    expect(token.code).toBe(2);
    expect(token.stderr).toContain('hmac tenants only');
  });
});

describe('tenant lifecycle commands', () => {
  it('prints names with their control characters escaped, in text and in JSON', async () => {
    const hostile = 'Evil\u001b[31mRED\u0007\u009b2J\u202eroot';
    expect((await runCli(['tenant', 'create', 'cli-evil', '--name', hostile], env)).code).toBe(0);
    const listed = await runCli(['tenant', 'list'], env);
    expect(listed.stdout).toContain('cli-evil\tEvil\\x1b[31mRED\\x07\\x9b2J\\u202eroot\t');
    // eslint-disable-next-line no-control-regex -- the test looks for raw control characters
    expect(listed.stdout).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202e]/);
    const json = await runCli(['tenant', 'list', '--json'], env);
    // eslint-disable-next-line no-control-regex -- the test looks for raw control characters
    expect(json.stdout).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202e]/);
    expect(JSON.parse(json.stdout).tenants.find((tenant: { id: string }) => tenant.id === 'cli-evil').name).toBe(
      hostile,
    );
  });

  it('updates, rotates with an overlap, retires, and deletes with --purge after confirmation', async () => {
    const created = await runCli(['tenant', 'create', 'cli-life', '--json'], env);
    // The quickstart runs without SECRETS_ENCRYPTION_KEY: it works, and says what that means.
    expect(created.stderr).toContain('SECRETS_ENCRYPTION_KEY is not set');
    const { secret } = JSON.parse(created.stdout);
    const updated = await runCli(
      ['tenant', 'update', 'cli-life', '--name', 'Life', '--inbound-auth', 'basic', '--json'],
      env,
    );
    expect(JSON.parse(updated.stdout)).toMatchObject({ id: 'cli-life', name: 'Life', inboundAuth: 'basic' });
    const rotated = JSON.parse(
      (await runCli(['tenant', 'rotate-secret', 'cli-life', '--overlap-seconds', '600', '--json'], env)).stdout,
    );
    expect(rotated.secret).not.toBe(secret);
    expect(Date.parse(rotated.previousSecretExpiresAt)).toBeGreaterThan(Date.now());
    expect((await runCli(['tenant', 'retire-secret', 'cli-life'], env)).stdout).toContain(
      'Retired the previous secret of cli-life',
    );
    const unconfirmed = await runCli(['tenant', 'delete', 'cli-life', '--purge'], env);
    expect(unconfirmed.code).toBe(2);
    expect(unconfirmed.stderr).toContain('pass --yes');
    const deleted = await runCli(['tenant', 'delete', 'cli-life', '--purge', '--yes', '--json'], env);
    expect(deleted.code).toBe(0);
    expect(JSON.parse(deleted.stdout)).toMatchObject({
      tenant: 'cli-life',
      registration: true,
      postgres: { events: 0, tickets: 0 },
    });
    expect((await runCli(['tenant', 'list'], env)).stdout).not.toContain('cli-life');
  });
});

describe('streamdesk start', () => {
  let secret: string;
  /** Inputs in the stream of cli-replay, a tenant of the replay test's own, whichever test ran before it. */
  const inputs = 3;
  beforeAll(async () => {
    secret = JSON.parse((await runCli(['tenant', 'create', 'cli-run', '--json'], env)).stdout).secret;
    await runCli(['tenant', 'create', 'cli-replay'], env);
    const redis = createRedis(config, 'commands');
    try {
      for (let i = 0; i < inputs; i++)
        await redis.xadd(
          `${config.redisPrefix}:{cli-replay}:events`,
          '*',
          ...encodeEvent(receivedEvent('cli-replay', `R-${i}`)),
        );
    } finally {
      redis.disconnect();
    }
  });

  it('serves webhooks over a real socket and exits 0 on SIGTERM with nothing it processed left unacknowledged', async () => {
    const child = spawnCli(['start', '--role', 'all'], { ...env, LOG_LEVEL: 'info' });
    const port = await listeningPort(child);
    const health = await fetch(`http://127.0.0.1:${port}/readyz`);
    expect(await health.json()).toEqual({ status: 'ready', redis: true, postgres: true });
    const accepted = await Promise.all(
      Array.from({ length: 50 }, async (_, i) => {
        const body = ticketBody({ id: `C-${i}`, subject: 'Real socket', description: `Ticket ${i}` });
        const response = await fetch(`http://127.0.0.1:${port}/v1/webhooks/cli-run/tickets`, {
          method: 'POST',
          body,
          headers: signedHeaders(secret, body),
        });
        return response.status;
      }),
    );
    expect(accepted.every((status) => status === 202)).toBe(true);
    child.kill('SIGTERM');
    const started = Date.now();
    expect(await exitOf(child)).toEqual({ code: 0, signal: null });
    expect(Date.now() - started).toBeLessThan(10_000);
    const redis = createRedis(config, 'commands');
    try {
      const groups = (await redis.xinfo('GROUPS', `${config.redisPrefix}:{cli-run}:events`)) as unknown[][];
      expect(groups.length).toBeGreaterThan(0);
      for (const group of groups) expect(Number(group[group.indexOf('pending') + 1])).toBe(0);
    } finally {
      redis.disconnect();
    }
  });

  it('restarts where it stopped: events appended while it was down are processed', async () => {
    const first = spawnCli(['start', '--role', 'ingest'], { ...env, LOG_LEVEL: 'info' });
    const port = await listeningPort(first);
    const body = ticketBody({ id: 'LATE-1', subject: 'While projector down', description: 'x' });
    expect(
      (
        await fetch(`http://127.0.0.1:${port}/v1/webhooks/cli-run/tickets`, {
          method: 'POST',
          body,
          headers: signedHeaders(secret, body),
        })
      ).status,
    ).toBe(202);
    first.kill('SIGTERM');
    await exitOf(first);
    const projector = spawnCli(['start', '--role', 'projector'], { ...env, LOG_LEVEL: 'info' });
    await listeningPort(projector);
    const pg = await import('pg');
    const client = new pg.default.Client({ connectionString: config.databaseUrl });
    await client.connect();
    try {
      await waitFor(
        async () =>
          (
            await client.query(
              `SELECT 1 FROM ${config.databaseSchema}.tickets WHERE tenant_id = 'cli-run' AND ticket_id = 'LATE-1'`,
            )
          ).rowCount === 1,
      );
    } finally {
      await client.end();
      projector.kill('SIGTERM');
      expect((await exitOf(projector)).code).toBe(0);
    }
  });

  it('rebuilds the tickets projection and dry-runs a stage replay from the command line', async () => {
    const rebuild = await runCli(['replay', 'rebuild', '--projection', 'tickets', '--tenant', 'cli-replay'], env);
    expect(rebuild.code).toBe(0);
    expect(rebuild.stdout).toMatch(/^Rebuilt tickets for 1 tenant\(s\) from \d+ events; swapped in\.$/m);
    // Not a terminal: progress comes as JSON lines.
    const progress = rebuild.stderr
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { progress: string; finished?: boolean });
    expect(progress.at(-1)).toMatchObject({ progress: 'rebuild tickets', finished: true });

    const dry = await runCli(
      [
        'replay',
        'stage',
        '--stage',
        'context',
        '--tenant',
        'cli-replay',
        '--from',
        '2020-01-01T00:00:00Z',
        '--to',
        new Date().toISOString(),
        '--dry-run',
        '--json',
      ],
      env,
    );
    expect(dry.code).toBe(0);
    const result = JSON.parse(dry.stdout);
    expect(result).toMatchObject({ dryRun: true, appended: 0, failed: [] });
    expect(result.inputs).toBe(inputs);

    const unknown = await runCli(['replay', 'rebuild', '--projection', 'nope'], env);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('--projection must be one of tickets');
  });
});
