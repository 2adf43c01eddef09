#!/usr/bin/env node
// Runs the built CLI when present (npm run build), else the TypeScript sources through tsx.
// The tracing bootstrap is loaded first, as `node --import` would; it does nothing unless an OTLP
// endpoint is configured.
import { existsSync } from 'node:fs';

const built = new URL('../dist/src/cli/bin.js', import.meta.url);
if (existsSync(built)) {
  await import(new URL('../dist/otel/register.js', import.meta.url).href);
  await import(built.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import(new URL('../otel/register.ts', import.meta.url).href);
  await import(new URL('../src/cli/bin.ts', import.meta.url).href);
}
