/**
 * The load generator, in a process of its own so it never shares the event loop with the server it
 * measures. The parent sends one LoadJob over IPC and receives one LoadSummary back.
 */
import autocannon from 'autocannon';
import type { LoadJob, LoadSummary } from './load.js';
import { runPaced } from './paced.js';
import { signedTicket } from './tickets.js';

async function runAutocannon(job: LoadJob): Promise<LoadSummary> {
  let sequence = 0;
  const result = await autocannon({
    url: job.url,
    connections: job.connections,
    ...(job.amount !== undefined ? { amount: job.amount } : { duration: job.durationSeconds ?? 10 }),
    // Its correction assumes one request per ceil(1 / per-connection rate) ms: it would invent samples.
    ...(job.overallRate !== undefined ? { overallRate: job.overallRate, ignoreCoordinatedOmission: true } : {}),
    timeout: 10,
    requests: [
      {
        method: 'POST',
        path: `/v1/webhooks/${job.tenant}/tickets`,
        // A fresh ticket, delivery id, timestamp and signature for every request.
        setupRequest: (request) => {
          const { body, headers } = signedTicket(job.secret, `${job.idPrefix}-${sequence++}`, job.texts);
          return { ...request, body, headers };
        },
      },
    ],
  });
  const statusCodes: Record<string, number> = {};
  for (const [code, stats] of Object.entries(result.statusCodeStats ?? {})) statusCodes[code] = stats.count ?? 0;
  return {
    sent: result.requests.sent,
    completed: result.requests.total,
    ok2xx: result['2xx'],
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    durationSeconds: result.duration,
    latencyMs: {
      p50: result.latency.p50,
      p90: result.latency.p90,
      p99: result.latency.p99,
      max: result.latency.max,
      mean: result.latency.mean,
    },
    statusCodes,
    startedAt: result.start.getTime(),
    finishedAt: result.finish.getTime(),
  };
}

function run(job: LoadJob): Promise<LoadSummary> {
  if (job.mode === 'paced') {
    if (job.overallRate === undefined || job.durationSeconds === undefined)
      throw new Error('A paced job needs overallRate and durationSeconds');
    return runPaced({ ...job, overallRate: job.overallRate, durationSeconds: job.durationSeconds });
  }
  return runAutocannon(job);
}

process.once('message', (job: LoadJob) => {
  run(job).then(
    (summary) => process.send?.({ ok: true, summary }, () => process.exit(0)),
    (error: unknown) =>
      process.send?.({ ok: false, error: String((error as Error).stack ?? error) }, () => process.exit(1)),
  );
});

// Loaded: the parent starts its clocks (and CPU counters) now, not while tsx and autocannon load.
process.send?.('ready');
