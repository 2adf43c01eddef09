// @ts-check
// Load test of the signed ticket webhook: POST /v1/webhooks/:tenant/tickets.
// Open-model scenarios (arrival rates), so a slow server shows up as latency and dropped
// iterations instead of quietly lowering the offered load. See loadtest/README.md.
//
//   SCENARIO=smoke|ramp|spike|soak  BASE_URL=http://localhost:3000
//   TENANTS="acme:<secret>,globex:<secret>"  k6 run loadtest/webhook.js
import { check, fail } from 'k6';
import exec from 'k6/execution';
import http from 'k6/http';
import { Counter } from 'k6/metrics';
import { newRunId, parseTenants, signedTicketCreated } from './lib/sign.js';

/** @typedef {import('./lib/ticket.js').Tenant} Tenant */
/** @typedef {{ baseUrl: string, tenants: Tenant[], runId: string }} SetupData */
/** @typedef {'smoke' | 'ramp' | 'spike' | 'soak'} ScenarioName */

const webhookTag = 'POST /v1/webhooks/:tenant/tickets';

/** Answers 429/503 (backlog over limit, Redis down): the server pushing back, with Retry-After. */
const backpressure = new Counter('webhook_backpressure');

/**
 * A positive integer from the environment (rates, VU counts, milliseconds), or `fallback` when unset.
 * @param {string} name
 * @param {number} fallback
 */
function envInteger(name, fallback) {
  const raw = __ENV[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name} must be a positive integer (got "${raw}")`);
  return value;
}

/**
 * @param {string} name
 * @param {string} fallback
 */
function envString(name, fallback) {
  const raw = __ENV[name];
  return raw === undefined || raw === '' ? fallback : raw;
}

/** @type {readonly ScenarioName[]} */
const scenarioNames = ['smoke', 'ramp', 'spike', 'soak'];
const requestedScenario = envString('SCENARIO', 'smoke');
/**
 * @param {string} name
 * @returns {name is ScenarioName}
 */
const isScenarioName = (name) => /** @type {readonly string[]} */ (scenarioNames).includes(name);
if (!isScenarioName(requestedScenario)) {
  throw new Error(`SCENARIO must be one of ${scenarioNames.join(', ')} (got "${requestedScenario}")`);
}
/** @type {ScenarioName} */
const scenarioName = requestedScenario;

/**
 * Latency budgets in ms (p95, p99); a spike is allowed to queue for a moment.
 * @type {Record<ScenarioName, [number, number]>}
 */
const latencyBudgets = { smoke: [200, 500], ramp: [250, 750], spike: [1000, 2500], soak: [250, 750] };
const [p95Budget, p99Budget] = latencyBudgets[scenarioName];
const p95Ms = envInteger('P95_MS', p95Budget);
const p99Ms = envInteger('P99_MS', p99Budget);

/**
 * VUs for an arrival rate. A VU sends one request at a time, so holding `rate` per second at a
 * latency of L seconds takes rate × L VUs: enough are allocated up front for the p95 budget, and
 * k6 may add more up to the p99 budget with 20 % headroom. A server slower than that fails the
 * latency thresholds anyway; below it, k6 never runs out of VUs and under-delivers.
 * @param {number} rate peak webhooks per second of the scenario
 */
function vusFor(rate) {
  return {
    preAllocatedVUs: envInteger('PRE_VUS', Math.max(5, Math.ceil((rate * p95Ms) / 1000))),
    maxVUs: envInteger('MAX_VUS', Math.max(20, Math.ceil((rate * p99Ms * 1.2) / 1000))),
  };
}

const rampRate = envInteger('RATE', scenarioName === 'spike' ? 1000 : 200);
const spikeBase = envInteger('BASE_RATE', 20);

/** @type {Record<ScenarioName, () => import('k6/options').Scenario>} */
const scenarios = {
  // A few requests a second for half a minute: is everything wired, do signatures match?
  smoke: () => ({
    executor: 'constant-arrival-rate',
    rate: envInteger('RATE', 5),
    timeUnit: '1s',
    duration: envString('DURATION', '30s'),
    ...vusFor(envInteger('RATE', 5)),
  }),
  // Climb to RATE webhooks/s, hold, come down: where does latency bend?
  ramp: () => ({
    executor: 'ramping-arrival-rate',
    startRate: 10,
    timeUnit: '1s',
    stages: [
      { duration: envString('RAMP_UP', '2m'), target: rampRate },
      { duration: envString('DURATION', '5m'), target: rampRate },
      { duration: envString('RAMP_DOWN', '1m'), target: 0 },
    ],
    ...vusFor(rampRate),
  }),
  // A quiet baseline, a burst to RATE within RAMP_UP (a helpdesk flushing its queue after an
  // outage), then back to baseline: does ingest absorb it, push back with 429/Retry-After, and recover?
  spike: () => ({
    executor: 'ramping-arrival-rate',
    startRate: spikeBase,
    timeUnit: '1s',
    stages: [
      { duration: envString('BASELINE', '30s'), target: spikeBase },
      { duration: envString('RAMP_UP', '10s'), target: rampRate },
      { duration: envString('DURATION', '1m'), target: rampRate },
      { duration: envString('RAMP_DOWN', '10s'), target: spikeBase },
      { duration: envString('RECOVERY', '1m'), target: spikeBase },
    ],
    ...vusFor(rampRate),
  }),
  // A steady, moderate rate for a long time: leaks, growing streams, trimming, slow drift.
  soak: () => ({
    executor: 'constant-arrival-rate',
    rate: envInteger('RATE', 50),
    timeUnit: '1s',
    duration: envString('DURATION', '1h'),
    ...vusFor(envInteger('RATE', 50)),
  }),
};

/**
 * A count from the environment that may be zero, or `fallback` when unset.
 * @param {string} name
 * @param {number} fallback
 */
function envCount(name, fallback) {
  const raw = __ENV[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0)
    throw new Error(`${name} must be a whole number, 0 or more (got "${raw}")`);
  return value;
}

/** @type {import('k6/options').Options} */
export const options = {
  scenarios: { [scenarioName]: scenarios[scenarioName]() },
  thresholds: {
    // An iteration k6 could not start (no free VU) is a webhook never offered: the run
    // under-delivered its planned load, so its other figures do not describe that load.
    dropped_iterations: [`count<=${envCount('MAX_DROPPED', 0)}`],
    // Under 1 % of requests may fail (any status outside 2xx/3xx, 429 and 503 included).
    http_req_failed: ['rate<0.01'],
    http_req_duration: [`p(95)<${p95Ms}`, `p(99)<${p99Ms}`],
    // Every response must be a 202 carrying an eventId.
    checks: ['rate>0.99'],
  },
  summaryTrendStats: ['avg', 'min', 'med', 'p(90)', 'p(95)', 'p(99)', 'max'],
};

/**
 * The event id of a 202 answer, if the body has one.
 * @param {import('k6/http').RefinedResponse<'text'>} response
 * @returns {{ eventId: string, duplicate: boolean } | undefined}
 */
function accepted(response) {
  if (response.status !== 202) return undefined;
  try {
    const body = response.json();
    if (body === null || typeof body !== 'object' || Array.isArray(body)) return undefined;
    const { eventId, duplicate } = body;
    return typeof eventId === 'string' && eventId !== '' && typeof duplicate === 'boolean'
      ? { eventId, duplicate }
      : undefined;
  } catch (_notJson) {
    return undefined;
  }
}

/**
 * Why a probe webhook was refused, in words an operator can act on.
 * @param {Tenant} tenant
 * @param {import('k6/http').RefinedResponse<'text'>} response
 */
function refusal(tenant, response) {
  const detail = response.status === 0 ? response.error : `${response.status} ${String(response.body).slice(0, 300)}`;
  switch (response.status) {
    case 401:
      // An unknown tenant is answered like a wrong secret, so both are named.
      return `tenant "${tenant.id}": signature refused (${detail}). Does the tenant exist (\`streamdesk tenant list\`), is the secret in TENANTS the one printed by \`streamdesk tenant create ${tenant.id}\` (and the tenant's inbound auth hmac), and is this machine's clock within 300 s of the server's?`;
    default:
      return `tenant "${tenant.id}": probe webhook answered ${detail}`;
  }
}

/**
 * Checks the configuration and that every tenant's secret is accepted, before any load is sent.
 * @returns {SetupData}
 */
export function setup() {
  /** @type {string[]} */
  const problems = [];
  const baseUrl = envString('BASE_URL', '').replace(/\/+$/, '');
  if (baseUrl === '')
    problems.push(
      'BASE_URL is not set (e.g. BASE_URL=http://localhost:3000, or http://ingest:3000 inside docker compose)',
    );
  else if (!/^https?:\/\/[^/]+/.test(baseUrl))
    problems.push(`BASE_URL must start with http:// or https:// (got "${baseUrl}")`);
  /** @type {Tenant[]} */
  let tenants = [];
  if (envString('TENANTS', '') === '') {
    problems.push(
      'TENANTS is not set (e.g. TENANTS="acme:<secret>,globex:<secret>" with the secrets printed by `streamdesk tenant create`)',
    );
  } else {
    try {
      tenants = parseTenants(envString('TENANTS', ''));
    } catch (error) {
      problems.push(error instanceof Error ? error.message : String(error));
    }
  }
  if (problems.length > 0)
    fail(`load test is not configured:\n  - ${problems.join('\n  - ')}\nSee loadtest/README.md.`);

  const ready = http.get(`${baseUrl}/readyz`, { tags: { name: 'GET /readyz' } });
  if (ready.status !== 200) {
    fail(
      `${baseUrl}/readyz answered ${ready.status === 0 ? ready.error : `${ready.status} ${String(ready.body)}`}: is the ingest service up, with Redis and Postgres reachable?`,
    );
  }

  const runId = envString('RUN_ID', newRunId());
  tenants.forEach((tenant, index) => {
    const request = signedTicketCreated({ tenant, runId: `${runId}-probe`, sequence: index });
    const response = http.post(`${baseUrl}${request.path}`, request.body, {
      headers: request.headers,
      tags: { name: webhookTag, tenant: tenant.id },
    });
    if (!accepted(response)) fail(refusal(tenant, response));
  });
  return { baseUrl, tenants, runId };
}

/**
 * One webhook per iteration; tenants take turns, so each gets an equal share of the load.
 * @param {SetupData} data
 */
export default function (data) {
  const sequence = exec.scenario.iterationInTest;
  const tenant = data.tenants[sequence % data.tenants.length];
  if (!tenant) throw new Error('setup() returned no tenants');
  const request = signedTicketCreated({ tenant, runId: data.runId, sequence });
  const response = http.post(`${data.baseUrl}${request.path}`, request.body, {
    headers: request.headers,
    tags: { name: webhookTag, tenant: tenant.id },
  });
  if (response.status === 429 || response.status === 503)
    backpressure.add(1, { tenant: tenant.id, status: String(response.status) });
  const answer = accepted(response);
  check(response, {
    'status is 202': (r) => r.status === 202,
    'body has an eventId': () => answer !== undefined,
    // Every delivery id is new, so a duplicate means two iterations collided.
    'first delivery, not a duplicate': () => answer !== undefined && answer.duplicate === false,
  });
}
