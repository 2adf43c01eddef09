import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingestApp } from '../support/app.js';
import { createTestEnv, type TestEnv } from '../support/env.js';
import { signedHeaders, ticketBody } from '../support/webhook.js';

let t: TestEnv;
let app: FastifyInstance;

beforeAll(async () => {
  t = await createTestEnv();
  const { services } = t;
  app = await ingestApp(t.config, services);
});

afterAll(async () => {
  await app?.close();
  await t?.cleanup();
});

function post(tenant: string, body: string, headers: Record<string, string>) {
  return app.inject({ method: 'POST', url: `/v1/webhooks/${tenant}/tickets`, payload: body, headers });
}

describe('the backlog check of webhooks', () => {
  it("counts a new tenant's backlog once for webhooks that arrive together", async () => {
    const initech = await t.services.registry.create({ id: 'initech' });
    const redis = t.services.ingestRedis;
    const lengths: string[] = [];
    const send = redis.sendCommand.bind(redis);
    redis.sendCommand = ((command: { name: string; args: unknown[] }) => {
      if (command.name === 'xlen') lengths.push(String(command.args[0]));
      return send(command as never);
    }) as typeof send;
    try {
      const bodies = Array.from({ length: 20 }, (_, i) =>
        ticketBody({ id: `I-${i}`, subject: 'Badge', description: 'Door' }),
      );
      const responses = await Promise.all(
        bodies.map((body) => post('initech', body, signedHeaders(initech.secret, body))),
      );
      expect(responses.map((response) => response.statusCode)).toEqual(bodies.map(() => 202));
    } finally {
      redis.sendCommand = send;
    }
    // Each lane's length and dead letters, once.
    expect(lengths.filter((key) => key === t.services.keys.events('initech'))).toHaveLength(1);
  });
});
