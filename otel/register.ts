/**
 * Tracing bootstrap, loaded before the application:
 *   tsx --import ./otel/register.ts src/cli/bin.ts start --role worker      (npm start)
 *   node --import ./dist/otel/register.js dist/src/cli/bin.js start         (built)
 * Does nothing unless an OTLP endpoint is configured (see telemetrySettings in ./sdk.ts). When on,
 * it starts the SDK and hands its flush to shutdownTelemetry(), which the CLI awaits on SIGTERM.
 */
import { onTelemetryShutdown } from '../src/telemetry/tracing.js';
import { installTelemetry, telemetrySettings } from './sdk.js';

const settings = telemetrySettings(process.env, process.argv);
if (settings.enabled) {
  const telemetry = await installTelemetry({ role: settings.role });
  onTelemetryShutdown(() => telemetry.shutdown());
}
