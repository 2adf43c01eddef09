import { Redis, ReplyError } from 'ioredis';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { StreamdeskError, isOutage, toStreamdeskError } from '../../src/errors.js';
import { testDatabaseUrl, testRedisUrl } from '../support/env.js';
import { freePort } from '../support/redis-server.js';

const codeOf = (error: unknown) => toStreamdeskError(error).code;

/** What a call rejected with (the test fails if it did not reject). */
async function rejection(call: () => Promise<unknown>): Promise<unknown> {
  try {
    await call();
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to fail');
}

describe('toStreamdeskError tells faults apart by what they are', () => {
  it('a refused Postgres connection on a port other than 5432 is a Postgres outage', async () => {
    const port = await freePort();
    const pool = new pg.Pool({ host: '127.0.0.1', port, user: 'postgres', connectionTimeoutMillis: 2_000 });
    pool.on('error', () => undefined);
    try {
      const error = await rejection(() => pool.query('SELECT 1'));
      expect((error as { port?: number }).port).toBe(port);
      const mapped = toStreamdeskError(error);
      expect(mapped.code).toBe('POSTGRES_UNAVAILABLE');
      expect(isOutage(mapped)).toBe(true);
    } finally {
      await pool.end();
    }
  });

  it('a terminated Postgres backend is a Postgres outage; a failing statement is not', async () => {
    const client = new pg.Client({ connectionString: testDatabaseUrl });
    client.on('error', () => undefined);
    await client.connect();
    try {
      const statementError = await rejection(() => client.query('SELECT 1 / 0'));
      expect(statementError).toBeInstanceOf(pg.DatabaseError);
      expect(codeOf(statementError)).toBe('HANDLER_FAILED');
      const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      const admin = new pg.Client({ connectionString: testDatabaseUrl });
      await admin.connect();
      await admin.query('SELECT pg_terminate_backend($1)', [rows[0]!.pid]).finally(() => admin.end());
      const terminated = await rejection(() => client.query('SELECT 1'));
      expect(codeOf(terminated)).toBe('POSTGRES_UNAVAILABLE');
      // The next call on the dead connection fails with pg's own code-less error.
      expect(codeOf(await rejection(() => client.query('SELECT 1')))).toBe('POSTGRES_UNAVAILABLE');
    } finally {
      await client.end().catch(() => undefined);
    }
  });

  it('SQLSTATE classes decide for database errors', () => {
    const databaseError = (code: string) => Object.assign(new pg.DatabaseError('server said no', 0, 'error'), { code });
    expect(codeOf(databaseError('57P01'))).toBe('POSTGRES_UNAVAILABLE');
    expect(codeOf(databaseError('08006'))).toBe('POSTGRES_UNAVAILABLE');
    expect(codeOf(databaseError('53300'))).toBe('POSTGRES_UNAVAILABLE');
    expect(codeOf(databaseError('23505'))).toBe('HANDLER_FAILED');
    expect(codeOf(databaseError('57014'))).toBe('HANDLER_FAILED');
  });

  it('an unreachable Redis is a Redis outage, whether the client fails fast or runs out of retries', async () => {
    const port = await freePort();
    const failFast = new Redis(`redis://127.0.0.1:${port}`, {
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
      lazyConnect: true,
      retryStrategy: () => null,
    });
    const retrying = new Redis(`redis://127.0.0.1:${port}`, { maxRetriesPerRequest: 1, retryStrategy: () => 10 });
    for (const client of [failFast, retrying]) client.on('error', () => undefined);
    try {
      expect(codeOf(await rejection(() => failFast.get('x')))).toBe('REDIS_UNAVAILABLE');
      const exhausted = await rejection(() => retrying.get('x'));
      expect((exhausted as Error).name).toBe('MaxRetriesPerRequestError');
      expect(codeOf(exhausted)).toBe('REDIS_UNAVAILABLE');
    } finally {
      failFast.disconnect();
      retrying.disconnect();
    }
  });

  it('a Redis that is loading is an outage; a Redis command error is not', async () => {
    expect(codeOf(new ReplyError('LOADING Redis is loading the dataset in memory'))).toBe('REDIS_UNAVAILABLE');
    const redis = new Redis(testRedisUrl, { maxRetriesPerRequest: 1 });
    try {
      const wrongCommand = await rejection(() => redis.call('XADD', 'not-a-valid', 'id', 'x'));
      expect(wrongCommand).toBeInstanceOf(ReplyError);
      expect(codeOf(wrongCommand)).toBe('HANDLER_FAILED');
    } finally {
      redis.disconnect();
    }
  });

  it('a handler error whose message merely names a socket error is not an outage', () => {
    for (const message of [
      'upstream said ETIMEDOUT',
      'connect ECONNREFUSED 127.0.0.1:5432',
      'Connection terminated unexpectedly while parsing the CSV',
    ]) {
      const mapped = toStreamdeskError(new Error(message));
      expect(mapped.code, message).toBe('HANDLER_FAILED');
      expect(isOutage(mapped)).toBe(false);
    }
    expect(codeOf('a thrown string ETIMEDOUT')).toBe('HANDLER_FAILED');
  });

  it('a peer that refuses an HTTP call from a handler is not an outage of our stores', async () => {
    const port = await freePort();
    const error = await rejection(() => fetch(`http://127.0.0.1:${port}/`));
    expect(error).toBeInstanceOf(TypeError);
    expect(codeOf(error)).toBe('HANDLER_FAILED');
  });

  it('keeps coded errors as they are', () => {
    const coded = new StreamdeskError('LLM_UNAVAILABLE', 'no answer');
    expect(toStreamdeskError(coded)).toBe(coded);
  });
});
