import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { context, trace } from '@opentelemetry/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installTelemetry, sqlVerb, telemetrySettings, type Telemetry } from '../../otel/sdk.js';
import type { TicketEvent } from '../../src/events.js';
import type { RunningRole } from '../../src/runtime/roles.js';
import type { StreamRunner } from '../../src/streams/runner.js';
import { parseTraceparent } from '../../src/telemetry/traceparent.js';
import type { TestEnv } from '../support/env.js';
import type { FakeHelpdesk } from '../support/fake-helpdesk.js';
import type { FakeOpenAi } from '../support/fake-openai.js';
import { OtlpReceiver, SpanKindCode, StatusCodeError, type ReceivedSpan } from '../support/otlp-receiver.js';

// The SDK (and its loader hook) must be in place before ioredis, pg and fastify load, as with
// `--import ./otel/register.ts`: everything that imports them is imported only once it runs.
// vitest runs each file in its own worker, so the global tracer provider stays in this file.
const load = async () => ({
  roles: await import('../../src/runtime/roles.js'),
  logger: await import('../../src/runtime/logger.js'),
  stage: await import('../../src/consumers/stage.js'),
  runner: await import('../../src/streams/runner.js'),
  tracing: await import('../../src/telemetry/tracing.js'),
  errors: await import('../../src/errors.js'),
  env: await import('../support/env.js'),
  events: await import('../support/events.js'),
  webhook: await import('../support/webhook.js'),
  fakeOpenAi: await import('../support/fake-openai.js'),
  fakeHelpdesk: await import('../support/fake-helpdesk.js'),
  child: await import('../support/child.js'),
});

let receiver: OtlpReceiver;
let telemetry: Telemetry;
let m: Awaited<ReturnType<typeof load>>;

beforeAll(async () => {
  receiver = await OtlpReceiver.start();
  telemetry = await installTelemetry({ role: 'all', url: receiver.tracesUrl });
  m = await load();
});

afterAll(async () => {
  await telemetry?.shutdown();
  await receiver?.close();
  trace.disable();
  context.disable();
});

/** Flushes the SDK until the collector holds spans matching `check`. */
async function received<T>(check: (spans: ReceivedSpan[]) => T | undefined | false, message: string): Promise<T> {
  return m.env.waitFor(
    async () => {
      await telemetry.forceFlush();
      return check(receiver.received);
    },
    { message, timeoutMs: 20_000, intervalMs: 100 },
  );
}

const spanIdOf = (traceparent: string) => parseTraceparent(traceparent)!.spanId;
const traceIdOf = (traceparent: string) => parseTraceparent(traceparent)!.traceId;
const randomTraceparent = () => `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-01`;

describe('one trace per ticket', () => {
  let t: TestEnv;
  let openai: FakeOpenAi;
  let helpdesk: FakeHelpdesk;
  let running: RunningRole;
  let secret: string;

  beforeAll(async () => {
    openai = await m.fakeOpenAi.startFakeOpenAi();
    helpdesk = await m.fakeHelpdesk.startFakeHelpdesk(() => ({ status: 200, body: { ok: true } }));
    t = await m.env.createTestEnv({ OPENAI_API_KEY: 'sk-test-0123456789', OPENAI_BASE_URL: openai.url });
    secret = (
      await t.services.registry.create({
        id: 'acme',
        writeback: { type: 'webhook', url: `${helpdesk.url}/notes`, secret: 'hook-secret-0123456789' },
      })
    ).secret;
    running = await m.roles.startRole('all', t.services, {
      listen: false,
      runnerOverrides: { blockMs: 100, tenantRefreshMs: 100 },
    });
    // Over a real socket, so the http instrumentation's server span is the root, as in production.
    await running.app.listen({ port: 0, host: '127.0.0.1' });
  });

  afterAll(async () => {
    await running?.stop();
    await t?.cleanup();
    await openai?.close();
    await helpdesk?.close();
  });

  it('follows a webhook through ingest, every stage and both projections as one trace of parents and children', async () => {
    const body = m.webhook.ticketBody({
      id: '4711',
      subject: 'VPN down at HQ',
      description: 'AnyConnect cannot reach 10.20.0.1 since 08:00.',
    });
    const { port } = running.app.server.address() as { port: number };
    const response = await fetch(`http://127.0.0.1:${port}/v1/webhooks/acme/tickets`, {
      method: 'POST',
      headers: m.webhook.signedHeaders(secret, body),
      body,
    });
    expect(response.status).toBe(202);

    await m.env.waitFor(
      async () => {
        const { rows } = await t.services.db.query<{ status: string; archived: number }>(
          "SELECT status, (SELECT count(*)::int FROM events WHERE tenant_id = 'acme' AND ticket_id = '4711') AS archived FROM tickets WHERE tenant_id = 'acme' AND ticket_id = '4711'",
        );
        return rows[0]?.status === 'written_back' && rows[0].archived === 4;
      },
      { message: 'ticket 4711 written back and archived' },
    );
    const stream = (await m.events.readStream(t.services, 'acme')).map(
      ([, fields]) => fields as unknown as TicketEvent & { traceparent: string },
    );
    expect(stream.map((event) => event.type)).toEqual([
      'ticket.received',
      'ticket.context_gathered',
      'ticket.enhanced',
      'ticket.written_back',
    ]);

    const traceId = traceIdOf(stream[0]!.traceparent);
    // Each event's consumers: the stage that handles it, and both projections.
    const consumers: Record<string, string[]> = {
      'ticket.received': ['context', 'projector', 'archiver'],
      'ticket.context_gathered': ['enhance', 'projector', 'archiver'],
      'ticket.enhanced': ['writeback', 'projector', 'archiver'],
      'ticket.written_back': ['projector', 'archiver'],
    };
    const expected = Object.values(consumers).flat().length;
    const spans = await received((all) => {
      const ofTrace = all.filter((span) => span.traceId === traceId);
      return ofTrace.filter((span) => span.kind === SpanKindCode.consumer).length >= expected ? ofTrace : undefined;
    }, `${expected} consumer spans of trace ${traceId}`);
    const byId = new Map(spans.map((span) => [span.spanId, span]));
    const destination = t.services.keys.events('acme');

    // Ingest: the HTTP server span is the root; the event carries the span of its XADD.
    const server = spans.find((span) => span.kind === SpanKindCode.server)!;
    expect(server).toMatchObject({ parentSpanId: '', name: 'POST /v1/webhooks/:tenant/tickets' });
    const send = spans.find((span) => span.name === 'send ticket.received')!;
    expect(send.kind).toBe(SpanKindCode.producer);
    expect(send.attributes).toMatchObject({
      'messaging.system': 'redis',
      'messaging.operation.type': 'send',
      'messaging.destination.name': destination,
      'messaging.message.id': stream[0]!.id,
      'streamdesk.tenant.id': 'acme',
      'streamdesk.ticket.id': '4711',
    });
    expect(spanIdOf(stream[0]!.traceparent)).toBe(send.spanId);
    const ancestors = (span: ReceivedSpan): string[] =>
      span.parentSpanId ? [span.parentSpanId, ...ancestors(byId.get(span.parentSpanId)!)] : [];
    expect(ancestors(send)).toContain(server.spanId);

    // Every consumer span is the child of the span named in the traceparent of the event it processed.
    for (const event of stream) {
      for (const group of consumers[event.type]!) {
        const [span, ...others] = spans.filter(
          (candidate) =>
            candidate.kind === SpanKindCode.consumer &&
            candidate.attributes['messaging.consumer.group.name'] === group &&
            candidate.attributes['messaging.message.id'] === event.id,
        );
        expect(others, `one ${group} span for ${event.type}`).toEqual([]);
        expect(span, `${group} span for ${event.type}`).toBeDefined();
        expect(span!.name).toBe(`${group} process`);
        expect(span!.parentSpanId).toBe(spanIdOf(event.traceparent));
        expect(span!.status.code).toBe(0);
        expect(span!.attributes).toMatchObject({
          'messaging.system': 'redis',
          'messaging.operation.type': 'process',
          'messaging.destination.name': destination,
          'messaging.consumer.group.name': group,
          'messaging.message.id': event.id,
          'streamdesk.tenant.id': 'acme',
          'streamdesk.ticket.id': '4711',
          'streamdesk.event.type': event.type,
          'streamdesk.attempt': 1,
        });
      }
    }
    // A stage's follow-on event carries the stage's span: the chain runs context → enhance → writeback.
    const stageSpan = (group: string) => spans.find((span) => span.name === `${group} process`)!;
    expect(spanIdOf(stream[1]!.traceparent)).toBe(stageSpan('context').spanId);
    expect(spanIdOf(stream[2]!.traceparent)).toBe(stageSpan('enhance').spanId);
    expect(spanIdOf(stream[3]!.traceparent)).toBe(stageSpan('writeback').spanId);

    // The LLM call and the write-back, with the fetch underneath each (undici instrumentation).
    const chat = spans.find((span) => span.attributes['gen_ai.operation.name'] === 'chat')!;
    expect(chat).toMatchObject({
      name: 'chat gpt-4o-mini',
      parentSpanId: stageSpan('enhance').spanId,
      kind: SpanKindCode.client,
    });
    expect(chat.attributes).toMatchObject({
      'gen_ai.system': 'openai',
      'gen_ai.request.model': 'gpt-4o-mini',
      'gen_ai.usage.input_tokens': 321,
      'gen_ai.usage.output_tokens': 54,
    });
    const writeback = spans.find((span) => span.name === 'writeback webhook')!;
    expect(writeback).toMatchObject({ parentSpanId: stageSpan('writeback').spanId });
    expect(writeback.attributes).toMatchObject({
      'streamdesk.writeback.target': 'webhook',
      'http.response.status_code': 200,
    });
    for (const outbound of [chat, writeback]) {
      expect(
        spans.some(
          (span) =>
            span.parentSpanId === outbound.spanId &&
            span.kind === SpanKindCode.client &&
            span.attributes['http.request.method'] === 'POST',
        ),
        `http client span under ${outbound.name}`,
      ).toBe(true);
    }
    // The stages' SQL shows under their spans (pg instrumentation).
    expect(
      spans.some(
        (span) =>
          span.parentSpanId === stageSpan('context').spanId && span.attributes['db.system.name'] === 'postgresql',
      ),
    ).toBe(true);
    expect(server.resource).toMatchObject({ 'service.name': 'streamdesk', 'streamdesk.role': 'all' });
    // Probes and scrapes make no traces.
    await fetch(`http://127.0.0.1:${port}/healthz`);
    await fetch(`http://127.0.0.1:${port}/metrics`);
    await telemetry.forceFlush();
    expect(
      receiver.received.filter((span) =>
        ['/healthz', '/metrics'].includes(String(span.attributes['url.path'] ?? span.attributes['http.route'])),
      ),
    ).toEqual([]);
  });

  it('writes trace_id and span_id of the active span into log lines', async () => {
    const lines: string[] = [];
    const log = m.logger.createLogger({ logLevel: 'info' }, 'test', { write: (line: string) => lines.push(line) });
    log.info('outside');
    const ids = await m.tracing.withSpan('logging', {}, async (span) => {
      log.info({ tenant: 'acme', eventId: 'e-1' }, 'inside');
      return span.spanContext();
    });
    const [outside, inside] = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(outside).not.toHaveProperty('trace_id');
    expect(inside).toMatchObject({
      trace_id: ids.traceId,
      span_id: ids.spanId,
      trace_flags: '01',
      tenant: 'acme',
      eventId: 'e-1',
      msg: 'inside',
    });
  });
});

describe('retries and dead letters', () => {
  let t: TestEnv;
  const runners: StreamRunner[] = [];

  beforeAll(async () => {
    t = await m.env.createTestEnv();
    await t.services.registry.create({ id: 'flaky' });
  });

  afterAll(async () => {
    await Promise.all(runners.map((running) => running.stop(2_000)));
    await t?.cleanup();
  });

  it('makes each attempt its own span, the failed ones with error status, and continues the trace from the last one', async () => {
    const calls = new Map<string, number>();
    const flakyStage = {
      name: 'flaky',
      handles: ['ticket.received'] as const,
      async handle(event: { ticket: string }) {
        const call = (calls.get(event.ticket) ?? 0) + 1;
        calls.set(event.ticket, call);
        if (event.ticket === 'POISON' || call === 1)
          throw new m.errors.StreamdeskError('HANDLER_FAILED', `flaky dependency (call ${call})`);
        return [
          {
            type: 'ticket.context_gathered' as const,
            data: { context: { similarTickets: [], assets: [], unmatchedIps: [], kbArticles: [] } },
          },
        ];
      },
    };
    const consumerSpans = m.tracing.consumerTracing((tenant) => t.services.keys.events(tenant));
    const { services } = t;
    const streamRunner = new m.runner.StreamRunner({
      redis: services.redis,
      blockingRedis: services.blockingRedis(),
      keys: services.keys,
      processor: m.stage.stageProcessor(flakyStage, services.logger, (_stage, event, attempt, work) =>
        consumerSpans.process('flaky', event, attempt, work),
      ),
      retry: { maxAttempts: 2, baseMs: 30, maxMs: 200, claimIdleMs: 5_000 },
      emittedTtlSeconds: 3_600,
      logger: services.logger,
      blockMs: 100,
      tenantRefreshMs: 100,
    });
    runners.push(streamRunner);
    await streamRunner.start();

    const retried = m.events.receivedEvent('flaky', 'T-RETRY', { traceparent: randomTraceparent() });
    const poison = m.events.receivedEvent('flaky', 'POISON', { traceparent: randomTraceparent() });
    await m.events.appendEvent(services, retried);
    await m.events.appendEvent(services, poison);
    const emitted = await m.env.waitFor(
      async () => {
        const stream = (await m.events.readStream(services, 'flaky')).map(([, fields]) => fields);
        const followOn = stream.find((fields) => fields.causation === retried.id);
        const failed = stream.find((fields) => fields.type === 'ticket.failed');
        return followOn && failed ? { followOn, failed } : undefined;
      },
      { message: 'follow-on of the retried ticket and ticket.failed of the poison one' },
    );

    const attemptsOf = (event: TicketEvent) =>
      received((all) => {
        const found = all.filter(
          (span) => span.name === 'flaky process' && span.attributes['messaging.message.id'] === event.id,
        );
        return found.length === 2
          ? found.sort(
              (a, b) => Number(a.attributes['streamdesk.attempt']) - Number(b.attributes['streamdesk.attempt']),
            )
          : undefined;
      }, `two spans for ${event.ticket}`);

    const [first, second] = await attemptsOf(retried);
    for (const span of [first!, second!]) {
      expect(span.traceId).toBe(traceIdOf(retried.traceparent));
      expect(span.parentSpanId).toBe(spanIdOf(retried.traceparent));
    }
    expect(first!.attributes['streamdesk.attempt']).toBe(1);
    expect(first!.status).toEqual({ code: StatusCodeError, message: 'flaky dependency (call 1)' });
    expect(first!.attributes['error.type']).toBe('HANDLER_FAILED');
    expect(first!.events).toEqual([
      expect.objectContaining({
        name: 'exception',
        attributes: expect.objectContaining({ 'exception.message': 'flaky dependency (call 1)' }),
      }),
    ]);
    expect(second!.attributes['streamdesk.attempt']).toBe(2);
    expect(second!.status.code).toBe(0);
    expect(emitted.followOn.traceparent).toBe(`00-${second!.traceId}-${second!.spanId}-01`);

    // Dead-lettered after its last attempt: ticket.failed continues the trace from that attempt's span.
    const [poisonFirst, poisonLast] = await attemptsOf(poison);
    expect([poisonFirst!.status.code, poisonLast!.status.code]).toEqual([StatusCodeError, StatusCodeError]);
    expect(emitted.failed.traceparent).toBe(`00-${poisonLast!.traceId}-${poisonLast!.spanId}-01`);
  });
});

describe('the bootstrap, otel/register.ts', () => {
  it('is off unless an OTLP endpoint is set, and off when disabled; takes the role from --role', () => {
    const endpoint = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' };
    expect(telemetrySettings({}, ['node', 'bin.ts', 'start'])).toMatchObject({ enabled: false });
    expect(telemetrySettings({ ...endpoint, OTEL_SDK_DISABLED: 'true' }, [])).toMatchObject({ enabled: false });
    expect(telemetrySettings({ ...endpoint, OTEL_TRACES_EXPORTER: 'none' }, [])).toMatchObject({ enabled: false });
    expect(telemetrySettings(endpoint, ['node', 'bin.ts', 'start'])).toEqual({ enabled: true, role: 'all' });
    expect(
      telemetrySettings({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:4318/v1/traces' }, [
        'start',
        '--role',
        'worker',
      ]),
    ).toEqual({ enabled: true, role: 'worker' });
    expect(telemetrySettings(endpoint, ['start', '--role=projector'])).toEqual({ enabled: true, role: 'projector' });
    expect(sqlVerb('-- Applies a step.\n-- $1 tenant\nINSERT INTO tickets VALUES ($1)')).toBe('INSERT');
  });

  it('traces a real `streamdesk start` and flushes what it buffered when it gets SIGTERM', async () => {
    const t = await m.env.createTestEnv();
    try {
      const secret = (await t.services.registry.create({ id: 'boot' })).secret;
      const root = fileURLToPath(new URL('../..', import.meta.url));
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', '--import', './otel/register.ts', 'src/cli/bin.ts', 'start', '--role', 'all'],
        {
          cwd: root,
          env: {
            PATH: process.env.PATH ?? '',
            ...t.env,
            LOG_LEVEL: 'info',
            RETRY_BASE_MS: '50',
            OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
            OTEL_SERVICE_NAME: 'streamdesk-boot',
            // Nothing is exported on a timer during the test: all of it must come from the flush at shutdown.
            OTEL_BSP_SCHEDULE_DELAY: '600000',
          },
          stdio: 'pipe',
        },
      );
      let logs = '';
      child.stdout.on('data', (chunk: Buffer) => (logs += chunk.toString()));
      const port = await m.child.listeningPort(child);
      const body = m.webhook.ticketBody({
        id: 'BOOT-1',
        subject: 'Printer offline',
        description: 'The printer at 10.1.2.3 is offline.',
      });
      const response = await fetch(`http://127.0.0.1:${port}/v1/webhooks/boot/tickets`, {
        method: 'POST',
        headers: m.webhook.signedHeaders(secret, body),
        body,
      });
      expect(response.status).toBe(202);
      await m.env.waitFor(
        async () => {
          const { rows } = await t.services.db.query<{ archived: number }>(
            "SELECT count(*)::int AS archived FROM events WHERE tenant_id = 'boot' AND ticket_id = 'BOOT-1'",
          );
          return rows[0]?.archived === 4;
        },
        { message: 'ticket BOOT-1 archived' },
      );
      const before = receiver.received.length;
      child.kill('SIGTERM');
      expect(await m.child.exitOf(child)).toEqual({ code: 0, signal: null });

      const exported = receiver.received
        .slice(before)
        .filter((span) => span.resource['service.name'] === 'streamdesk-boot');
      const send = exported.find(
        (span) => span.name === 'send ticket.received' && span.attributes['streamdesk.ticket.id'] === 'BOOT-1',
      )!;
      expect(send).toBeDefined();
      expect(send.resource).toMatchObject({ 'streamdesk.role': 'all' });
      const ofTrace = exported.filter((span) => span.traceId === send.traceId);
      expect(new Set(ofTrace.filter((span) => span.kind === SpanKindCode.consumer).map((span) => span.name))).toEqual(
        new Set(['context process', 'enhance process', 'writeback process', 'projector process', 'archiver process']),
      );
      expect(ofTrace.find((span) => span.kind === SpanKindCode.server)?.name).toBe('POST /v1/webhooks/:tenant/tickets');
      // ioredis under the send span, recorded by command name only: the event's fields never reach a span.
      const append = ofTrace.find(
        (span) => span.parentSpanId === send.spanId && span.attributes['db.system.name'] === 'redis',
      );
      expect(append?.name).toBe('evalsha');
      expect(JSON.stringify(ofTrace)).not.toContain('Printer offline');
      // The webhook's log line names its trace.
      const received = logs
        .split('\n')
        .filter((line) => line.includes('"msg":"ticket received"'))
        .map((line) => JSON.parse(line) as Record<string, unknown>);
      expect(received).toEqual([expect.objectContaining({ trace_id: send.traceId, ticket: 'BOOT-1' })]);
    } finally {
      await t.cleanup();
    }
  });
});
