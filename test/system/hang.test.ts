import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestEnv, waitFor, type TestEnv } from '../support/env.js';
import { exitOf, listeningPort, spawnCli } from '../support/child.js';
import { appendEvent, readStream, receivedEvent } from '../support/events.js';

let t: TestEnv;
let helpdesk: Server;
let helpdeskUrl: string;
const received: { at: number; respond: () => void }[] = [];
const children: ChildProcessWithoutNullStreams[] = [];

beforeAll(async () => {
  t = await createTestEnv();
  // A helpdesk that holds the first request until the test lets it answer, and answers later ones at once.
  helpdesk = createServer((request: IncomingMessage, response: ServerResponse) => {
    request.resume();
    const respond = () => {
      if (!response.headersSent) response.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    };
    received.push({ at: Date.now(), respond });
    if (received.length > 1) respond();
  });
  await new Promise<void>((resolve) => helpdesk.listen(0, '127.0.0.1', resolve));
  helpdeskUrl = `http://127.0.0.1:${(helpdesk.address() as { port: number }).port}/notes`;
  await t.services.registry.create({
    id: 'hang',
    writeback: { type: 'webhook', url: helpdeskUrl, secret: 'helpdesk-secret-0123456789' },
  });
});

afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  for (const { respond } of received) respond();
  await new Promise((resolve) => helpdesk.close(resolve));
  await t.cleanup();
});

function worker(): { child: ChildProcessWithoutNullStreams; output: () => string } {
  const child = spawnCli(['start', '--role', 'worker'], { ...t.env, CLAIM_IDLE_MS: '1000', LOG_LEVEL: 'info' });
  children.push(child);
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return { child, output: () => output };
}

describe('a consumer that hangs past the claim timeout', () => {
  it('has its entry processed by another consumer, and its late result is dropped', async () => {
    const stalled = worker();
    await listeningPort(stalled.child);
    await appendEvent(t.services, receivedEvent('hang', 'H-1'));
    await waitFor(() => received.length === 1, { message: 'the first worker is writing back' });
    // Frozen mid-request: it can neither answer nor keep its entry fresh.
    stalled.child.kill('SIGSTOP');

    const healthy = worker();
    await listeningPort(healthy.child);
    await waitFor(
      async () => (await readStream(t.services, 'hang')).some(([, fields]) => fields.type === 'ticket.written_back'),
      { message: 'the second worker took over and wrote back' },
    );
    expect(received).toHaveLength(2);

    stalled.child.kill('SIGCONT');
    received[0]!.respond();
    await waitFor(() => stalled.output().includes('taken over by another consumer'), {
      message: 'the late result is dropped',
    });

    const events = await readStream(t.services, 'hang');
    expect(events.filter(([, fields]) => fields.type === 'ticket.written_back')).toHaveLength(1);
    expect(events.filter(([, fields]) => fields.type === 'ticket.enhanced')).toHaveLength(1);
    const rows = await t.services.db.query("SELECT count(*)::int AS n FROM writebacks WHERE tenant_id = 'hang'");
    expect(rows.rows[0].n).toBe(1);
    for (const { child } of [stalled, healthy]) {
      child.kill('SIGTERM');
      expect((await exitOf(child)).code).toBe(0);
    }
  }, 60_000);
});
