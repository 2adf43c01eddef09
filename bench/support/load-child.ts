/**
 * The load generator, in a process of its own so it never shares the event loop with the server it
 * measures. The parent sends one LoadJob over IPC and receives one LoadSummary back.
 */
import autocannon from 'autocannon';
import type { LoadJob, LoadSummary } from './load.js';
import { runPaced } from './paced.js';
import { signedTicket } from './tickets.js';

type SignedRequest = ReturnType<typeof signedTicket>;

/**
 * Requests built and signed before the clocks start, so that at saturation the generator's CPU goes to
 * sending (signing a request costs about half of what the server spends accepting it, on the same cores).
 * A run by duration gets as many as it will likely send; past them, requests are built as they go.
 */
function prebuild(job: LoadJob): SignedRequest[] {
  if (job.mode !== 'autocannon') return [];
  const count = job.amount ?? Math.min(100_000, (job.durationSeconds ?? 10) * (job.overallRate ?? 10_000));
  return Array.from({ length: count }, (_, sequence) =>
    signedTicket(job.secret, `${job.idPrefix}-${sequence}`, job.texts),
  );
}

async function runAutocannon(job: LoadJob, prebuilt: SignedRequest[]): Promise<LoadSummary> {
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
          const index = sequence++;
          const { body, headers } = prebuilt[index] ?? signedTicket(job.secret, `${job.idPrefix}-${index}`, job.texts);
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

function run(job: LoadJob, prebuilt: SignedRequest[]): Promise<LoadSummary> {
  if (job.mode === 'paced') {
    if (job.overallRate === undefined || job.durationSeconds === undefined)
      throw new Error('A paced job needs overallRate and durationSeconds');
    return runPaced({ ...job, overallRate: job.overallRate, durationSeconds: job.durationSeconds });
  }
  return runAutocannon(job, prebuilt);
}

const fail = (error: unknown) =>
  process.send?.({ ok: false, error: String((error as Error).stack ?? error) }, () => process.exit(1));

process.once('message', (job: LoadJob) => {
  let prebuilt: SignedRequest[];
  try {
    prebuilt = prebuild(job);
  } catch (error) {
    fail(error);
    return;
  }
  process.once('message', () => {
    run(job, prebuilt).then((summary) => process.send?.({ ok: true, summary }, () => process.exit(0)), fail);
  });
  // Loaded and built: the parent starts its clocks (and CPU counters) now, then says go.
  process.send?.('ready');
});

process.send?.('loaded');
