import type { AddressInfo, Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/config.js';
import { ingestApp } from '../support/app.js';
import { createTestEnv, waitFor, type TestEnv } from '../support/env.js';
import { openSocket, parseResponse, rawRequest } from '../support/raw-http.js';
import { signedHeaders, ticketBody } from '../support/webhook.js';

type Held = { socket: Socket; received: Buffer; closed: boolean; stop(): void };

let t: TestEnv | undefined;
let app: FastifyInstance | undefined;
const held: Held[] = [];

afterEach(async () => {
  for (const connection of held.splice(0)) {
    connection.stop();
    connection.socket.destroy();
  }
  await app?.close();
  await t?.cleanup();
});

async function start(env: Record<string, string>): Promise<{ port: number; secret: string }> {
  t = await createTestEnv(env);
  const { services } = t;
  app = await ingestApp(t.config, services);
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { secret } = await services.registry.create({ id: 'acme' });
  return { port: (app.server.address() as AddressInfo).port, secret };
}

/** A connection the test keeps open, sending `first` and then, if given, one byte of `trickle` every 100 ms. */
async function hold(port: number, first: string, trickle?: string): Promise<Held> {
  const socket = await openSocket(port);
  let timer: NodeJS.Timeout | undefined;
  const connection: Held = { socket, received: Buffer.alloc(0), closed: false, stop: () => clearInterval(timer) };
  socket.on('data', (chunk: Buffer) => (connection.received = Buffer.concat([connection.received, chunk])));
  socket.on('error', () => undefined);
  socket.on('close', () => {
    connection.closed = true;
    connection.stop();
  });
  if (first) socket.write(first);
  if (trickle) timer = setInterval(() => socket.writable && socket.write(trickle), 100);
  held.push(connection);
  return connection;
}

async function webhook(port: number, secret: string, id: string): Promise<number> {
  const body = ticketBody({ id, subject: 'Printer jammed', description: 'Tray 2' });
  const headers = Object.entries({
    ...signedHeaders(secret, body),
    host: 'x',
    connection: 'close',
    'content-length': String(Buffer.byteLength(body)),
  });
  const response = await rawRequest(
    port,
    `POST /v1/webhooks/acme/tickets HTTP/1.1\r\n${headers.map(([name, value]) => `${name}: ${value}`).join('\r\n')}\r\n\r\n${body}`,
  );
  return response.status;
}

describe('slow and idle clients', () => {
  it('closes partial-body, partial-header, idle and kept-alive connections within the configured bounds while webhooks are served', async () => {
    // Short bounds so the test runs in seconds; the defaults are documented in the README.
    const { port, secret } = await start({
      HTTP_REQUEST_TIMEOUT_MS: '1500',
      HTTP_HEADERS_TIMEOUT_MS: '1000',
      HTTP_IDLE_TIMEOUT_MS: '1000',
      HTTP_KEEP_ALIVE_TIMEOUT_MS: '500',
    });
    const partialBody = `POST /v1/webhooks/acme/tickets HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"event":`;
    // A byte every 100 ms keeps each socket active: only the request and headers timeouts can end these.
    const slowBodies = await Promise.all(Array.from({ length: 20 }, () => hold(port, partialBody, ' ')));
    const slowHeaders = await Promise.all(
      Array.from({ length: 20 }, () =>
        hold(port, 'POST /v1/webhooks/acme/tickets HTTP/1.1\r\nHost: x\r\nX-Slow: ', 'a'),
      ),
    );
    const idle = await Promise.all(Array.from({ length: 20 }, () => hold(port, '')));
    const keptAlive = await Promise.all(
      Array.from({ length: 10 }, () => hold(port, 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n')),
    );

    const statuses = await Promise.all(Array.from({ length: 20 }, (_, i) => webhook(port, secret, `S-${i}`)));
    expect(statuses).toEqual(Array.from({ length: 20 }, () => 202));

    const all = [...slowBodies, ...slowHeaders, ...idle, ...keptAlive];
    // Without the timeouts these connections stay open indefinitely; the bound here is the longest timeout plus checking slack.
    await waitFor(() => all.every((connection) => connection.closed), {
      timeoutMs: 10_000,
      message: 'every held connection closed by the server',
    });

    for (const connection of slowBodies) {
      const response = parseResponse(connection.received);
      expect(response?.status).toBe(408);
      expect(JSON.parse(response!.body)).toEqual({ error: { code: 'REQUEST_TIMEOUT', message: expect.any(String) } });
    }
    for (const connection of keptAlive) expect(parseResponse(connection.received)?.status).toBe(200);
    expect(await t!.services.redis.xlen(t!.services.keys.events('acme'))).toBe(20);
    expect(await webhook(port, secret, 'after')).toBe(202);
  });

  it('bounds the number of open connections and serves again once one is free', async () => {
    const { port, secret } = await start({ HTTP_MAX_CONNECTIONS: '5' });
    const idle = await Promise.all(Array.from({ length: 5 }, () => hold(port, '')));
    await waitFor(
      () => new Promise<boolean>((resolve) => app!.server.getConnections((_error, count) => resolve(count === 5))),
      { message: 'five connections open' },
    );
    const over = await hold(port, 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    await waitFor(() => over.closed, { message: 'a sixth connection closed by the server' });
    expect(over.received.length).toBe(0);
    expect(idle.every((connection) => !connection.closed)).toBe(true);

    idle[0]!.socket.destroy();
    await waitFor(
      () => new Promise<boolean>((resolve) => app!.server.getConnections((_error, count) => resolve(count === 4))),
      { message: 'a connection freed' },
    );
    expect(await webhook(port, secret, 'B-1')).toBe(202);
  });
});

describe('HTTP limits in the configuration', () => {
  it('has bounded defaults, caps the headers timeout at the request timeout, and names a bad variable', () => {
    expect(loadConfig({}).http).toEqual({
      requestTimeoutMs: 30_000,
      headersTimeoutMs: 10_000,
      idleTimeoutMs: 30_000,
      keepAliveTimeoutMs: 5_000,
      maxConnections: 2_048,
    });
    expect(loadConfig({ HTTP_REQUEST_TIMEOUT_MS: '2000', HTTP_HEADERS_TIMEOUT_MS: '5000' }).http).toMatchObject({
      requestTimeoutMs: 2_000,
      headersTimeoutMs: 2_000,
    });
    expect(loadConfig({}).writebackAllowPrivate).toBe(false);
    expect(() => loadConfig({ HTTP_IDLE_TIMEOUT_MS: 'forever' })).toThrow(
      new ConfigError(
        'Invalid configuration: HTTP_IDLE_TIMEOUT_MS: expected an integer between 100 and 600000 (got "forever")',
      ),
    );
    expect(() => loadConfig({ WRITEBACK_ALLOW_PRIVATE: 'yes' })).toThrow(
      /WRITEBACK_ALLOW_PRIVATE: expected true or false/,
    );
  });
});
