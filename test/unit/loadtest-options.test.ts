// The k6 scripts must run unmodified on the k6 versions users have: k6 before v0.53 compiles
// scripts with a Babel that knows no syntax newer than ES2018. And a run must not pass while k6
// under-delivers its planned load: VUs sized for each scenario's rate, dropped iterations fail it.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'acorn';
import { afterEach, describe, expect, it, vi } from 'vitest';

const loadtestDir = new URL('../../loadtest/', import.meta.url);
// JavaScript typed by JSDoc for k6, imported by path so the test's type check leaves it alone.
const webhookScriptPath = '../../loadtest/webhook.js';

function scriptsIn(dir: URL): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.js'))
    .map((file) => join(dir.pathname, file));
}

function es2018SyntaxError(source: string): string | undefined {
  try {
    parse(source, { ecmaVersion: 2018, sourceType: 'module' });
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

describe('k6 scripts', () => {
  it('use no syntax newer than ES2018, so k6 v0.48 and later compile them', () => {
    const scripts = scriptsIn(loadtestDir);
    expect(scripts.length).toBeGreaterThanOrEqual(3);
    const refused = scripts.flatMap((file) => {
      const message = es2018SyntaxError(readFileSync(file, 'utf8'));
      return message === undefined ? [] : [`${file}: ${message}`];
    });
    expect(refused).toEqual([]);
  });

  it('the syntax check refuses what old k6 refuses', () => {
    for (const newer of ['a ?? b;', 'a?.b;', 'try { f(); } catch { g(); }']) {
      expect(es2018SyntaxError(newer), newer).toBeDefined();
    }
  });
});

type Scenario = {
  executor: string;
  preAllocatedVUs: number;
  maxVUs: number;
  rate?: number;
  stages?: { duration: string; target: number }[];
};
type Options = { scenarios: Record<string, Scenario>; thresholds: Record<string, string[]> };

// The k6 modules exist only inside k6; the options are plain data computed at import time.
vi.mock('k6', () => ({
  check: () => true,
  fail: (message: string) => {
    throw new Error(message);
  },
}));
vi.mock('k6/execution', () => ({ default: { scenario: { iterationInTest: 0 } } }));
vi.mock('k6/http', () => ({ default: {} }));
vi.mock('k6/metrics', () => ({
  Counter: class {
    add() {}
  },
}));
vi.mock('k6/crypto', () => ({ hmac: () => '' }));

async function optionsFor(env: Record<string, string>): Promise<Options> {
  vi.resetModules();
  (globalThis as { __ENV?: Record<string, string> }).__ENV = env;
  const script = (await import(webhookScriptPath)) as { options: Options };
  return script.options;
}

function peakRate(scenario: Scenario): number {
  return Math.max(scenario.rate ?? 0, ...(scenario.stages ?? []).map((stage) => stage.target));
}

describe('k6 options', () => {
  afterEach(() => {
    delete (globalThis as { __ENV?: Record<string, string> }).__ENV;
  });

  it('fail a run that dropped iterations', async () => {
    const options = await optionsFor({ SCENARIO: 'spike' });
    expect(options.thresholds.dropped_iterations).toEqual(['count<=0']);
    expect((await optionsFor({ SCENARIO: 'smoke', MAX_DROPPED: '25' })).thresholds.dropped_iterations).toEqual([
      'count<=25',
    ]);
  });

  it.each([
    ['smoke', {}],
    ['ramp', {}],
    ['ramp', { RATE: '1000' }],
    ['spike', {}],
    ['spike', { RATE: '3000' }],
    ['soak', { RATE: '400' }],
  ])('%s %j has VUs for its peak rate at the p99 latency budget', async (name, extra) => {
    const options = await optionsFor({ SCENARIO: name, ...extra });
    const scenario = options.scenarios[name];
    if (!scenario) throw new Error(`no ${name} scenario`);
    const p99Ms = Number(/p\(99\)<(\d+)/.exec(options.thresholds.http_req_duration?.join(' ') ?? '')?.[1]);
    expect(p99Ms).toBeGreaterThan(0);
    // Each VU completes 1000 / p99Ms requests a second at the p99 latency.
    expect((scenario.maxVUs * 1000) / p99Ms).toBeGreaterThanOrEqual(peakRate(scenario));
    expect(scenario.preAllocatedVUs).toBeLessThanOrEqual(scenario.maxVUs);
  });

  it('take ramp durations from the environment', async () => {
    const ramp = (await optionsFor({ SCENARIO: 'ramp', RAMP_UP: '15s', RAMP_DOWN: '5s', DURATION: '1m' })).scenarios
      .ramp;
    expect(ramp?.stages?.map((stage) => stage.duration)).toEqual(['15s', '1m', '5s']);
    const spike = (
      await optionsFor({ SCENARIO: 'spike', BASELINE: '5s', RAMP_UP: '2s', RAMP_DOWN: '3s', RECOVERY: '20s' })
    ).scenarios.spike;
    expect(spike?.stages?.map((stage) => stage.duration)).toEqual(['5s', '2s', '1m', '3s', '20s']);
  });
});
