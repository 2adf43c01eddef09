import { register } from 'node:module';
import { FastifyOtelInstrumentation } from '@fastify/otel';
import { trace, type ProxyTracerProvider } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { IORedisInstrumentation } from '@opentelemetry/instrumentation-ioredis';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { createAddHookMessageChannel } from 'import-in-the-middle';
import { Attr } from '../src/telemetry/attributes.js';

type Instrumentation = NonNullable<ConstructorParameters<typeof NodeSDK>[0]>['instrumentations'] extends
  (infer I)[] | undefined
  ? Exclude<I, unknown[]>
  : never;

/** Probe and scrape endpoints: served every few seconds, worth no trace. */
const quietPaths = new Set(['/healthz', '/readyz', '/metrics']);
const pathOf = (url: string | undefined) => (url ?? '').split('?')[0]!;

export type TelemetrySettings = { enabled: true; role: string } | { enabled: false; reason: string };

/**
 * Whether to trace, from the standard variables: off with OTEL_SDK_DISABLED=true,
 * OTEL_TRACES_EXPORTER=none, or no OTLP endpoint set (so a plain `npm start` never tries to reach
 * a collector that isn't there). The role comes from the `--role` argument.
 */
export function telemetrySettings(env: NodeJS.ProcessEnv, argv: readonly string[]): TelemetrySettings {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true')
    return { enabled: false, reason: 'OTEL_SDK_DISABLED=true' };
  if (env.OTEL_TRACES_EXPORTER?.trim().toLowerCase() === 'none')
    return { enabled: false, reason: 'OTEL_TRACES_EXPORTER=none' };
  if (!env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim() && !env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim()) {
    return { enabled: false, reason: 'no OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT' };
  }
  return { enabled: true, role: roleArgument(argv) };
}

/** `--role X` or `--role=X`; `all` when absent, as `streamdesk start` defaults. */
function roleArgument(argv: readonly string[]): string {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--role' && argv[i + 1]) return argv[i + 1]!;
    if (arg.startsWith('--role=')) return arg.slice('--role='.length);
  }
  return 'all';
}

/** The first SQL keyword of a statement, past its leading `--` comment lines. */
export function sqlVerb(text: string): string {
  const statement = text.replace(/^(\s*--[^\n]*\n)*/, '').trimStart();
  return (/^[A-Za-z]+/.exec(statement)?.[0] ?? 'query').toUpperCase();
}

/** The instrumentations streamdesk uses, configured to stay quiet outside a ticket's work. */
export function instrumentations(): Instrumentation[] {
  return [
    new HttpInstrumentation({
      ignoreIncomingRequestHook: (request) => quietPaths.has(pathOf(request.url)),
      requireParentforOutgoingSpans: true,
    }),
    // fetch (the OpenAI SDK, the helpdesk clients) runs on undici, which the http instrumentation does not see.
    new UndiciInstrumentation({ requireParentforSpans: true }),
    new FastifyOtelInstrumentation({
      registerOnInitialization: true,
      ignorePaths: (route) => quietPaths.has(route.url),
      // One span per request; none per handler or lifecycle hook (signature parser, metrics hook).
      instrumentHooks: false,
      instrumentHandler: false,
    }) as unknown as Instrumentation,
    // Only inside a span: the runners' blocking reads, claims and settles would otherwise each be a trace.
    // The statement is the command name alone: arguments hold event fields, ticket text included.
    new IORedisInstrumentation({ requireParentSpan: true, dbStatementSerializer: (command) => command }),
    new PgInstrumentation({
      requireParentSpan: true,
      ignoreConnectSpans: true,
      // The statements start with a comment header (src/**/sql/*.sql); name the span by the SQL verb after it.
      requestHook: (span, { query, connection }) =>
        span.updateName(`pg.query:${sqlVerb(query.text)}${connection.database ? ` ${connection.database}` : ''}`),
    }),
  ];
}

export type Telemetry = {
  /** Exports what is buffered now (tests use it before reading what the collector received). */
  forceFlush(): Promise<void>;
  /** Flushes and stops the SDK. */
  shutdown(): Promise<void>;
};

/**
 * Starts the OpenTelemetry SDK: traces only, over OTLP/HTTP (JSON), batched. Endpoint, headers,
 * batching, sampling and propagators come from the standard OTEL_* variables; `service.name` is
 * OTEL_SERVICE_NAME (or `service.name` in OTEL_RESOURCE_ATTRIBUTES), "streamdesk" when neither is set.
 * Metrics stay with prom-client (/metrics); logs stay with pino (stdout).
 */
export function startTelemetry(settings: { role: string; url?: string }): Telemetry {
  const sdk = new NodeSDK({
    // The lowest-priority resource: detected attributes (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES, host, process) override it.
    resource: defaultResource().merge(
      resourceFromAttributes({ [Attr.serviceName]: 'streamdesk', [Attr.role]: settings.role }),
    ),
    traceExporter: new OTLPTraceExporter(settings.url ? { url: settings.url } : {}),
    metricReaders: [],
    logRecordProcessors: [],
    instrumentations: instrumentations(),
  });
  sdk.start();
  return {
    async forceFlush() {
      const provider = (trace.getTracerProvider() as ProxyTracerProvider).getDelegate() as {
        forceFlush?: () => Promise<void>;
      };
      await provider.forceFlush?.();
    },
    shutdown: () => sdk.shutdown(),
  };
}

/**
 * What otel/register.ts runs before the application is imported: hooks the ESM loader for the
 * modules the instrumentations patch (only those go through the hook; everything else loads
 * untouched), starts the SDK, and waits until the hook knows every module it must wrap.
 */
export async function installTelemetry(settings: { role: string; url?: string }): Promise<Telemetry> {
  const { registerOptions, waitForAllMessagesAcknowledged } = createAddHookMessageChannel();
  register('import-in-the-middle/hook.mjs', import.meta.url, registerOptions);
  const telemetry = startTelemetry(settings);
  await waitForAllMessagesAcknowledged();
  return telemetry;
}
