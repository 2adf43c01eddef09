import http from 'node:http';
import { quantile } from './stats.js';
import type { LoadJob, LoadSummary } from './load.js';
import { signedTicket } from './tickets.js';

/**
 * An open-model sender: request i is due at start + i / rate, whatever happened to the ones before,
 * and its latency counts from when it was due, so a slow server shows up as latency (no
 * coordinated omission). autocannon's overallRate is a per-second budget instead: every second
 * starts with a burst of `rate` requests at full speed.
 */
export async function runPaced(job: LoadJob & { overallRate: number; durationSeconds: number }): Promise<LoadSummary> {
  const url = new URL(job.url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: job.connections });
  const total = Math.round(job.overallRate * job.durationSeconds);
  const intervalMs = 1_000 / job.overallRate;
  const latencies: number[] = [];
  const sendLags: number[] = [];
  const statusCodes: Record<string, number> = {};
  let completed = 0;
  let errors = 0;
  let lastResponse = 0;
  const startedAt = Date.now();
  const start = performance.now();

  await new Promise<void>((resolve) => {
    let sent = 0;
    const finish = () => {
      if (++completed === total) resolve();
    };
    const send = (index: number, due: number) => {
      const { body, headers } = signedTicket(job.secret, `${job.idPrefix}-${index}`, job.texts);
      sendLags.push(performance.now() - due);
      const request = http.request(
        {
          agent,
          host: url.hostname,
          port: url.port,
          method: 'POST',
          path: `/v1/webhooks/${job.tenant}/tickets`,
          headers: { ...headers, 'content-length': Buffer.byteLength(body) },
        },
        (response) => {
          response.resume();
          response.once('end', () => {
            lastResponse = performance.now();
            latencies.push(lastResponse - due);
            const code = String(response.statusCode);
            statusCodes[code] = (statusCodes[code] ?? 0) + 1;
            finish();
          });
        },
      );
      request.setTimeout(10_000, () => request.destroy(new Error('timeout')));
      request.once('error', () => {
        errors += 1;
        finish();
      });
      request.end(body);
    };
    const tick = () => {
      const now = performance.now();
      while (sent < total && start + sent * intervalMs <= now) {
        send(sent, start + sent * intervalMs);
        sent += 1;
      }
      if (sent < total) setTimeout(tick, Math.max(0, start + sent * intervalMs - performance.now()));
    };
    tick();
  });
  agent.destroy();

  const ok2xx = Object.entries(statusCodes).reduce((sum, [code, count]) => sum + (code.startsWith('2') ? count : 0), 0);
  const rounded = (q: number) => Math.round(quantile(latencies, q) * 100) / 100;
  return {
    sent: total,
    completed: latencies.length,
    ok2xx,
    non2xx: latencies.length - ok2xx,
    errors,
    timeouts: 0,
    durationSeconds: (lastResponse - start) / 1_000,
    latencyMs: {
      p50: rounded(0.5),
      p90: rounded(0.9),
      p99: rounded(0.99),
      max: rounded(1),
      mean: latencies.reduce((a, b) => a + b, 0) / Math.max(1, latencies.length),
    },
    sendLagMsP99: Math.round(quantile(sendLags, 0.99) * 100) / 100,
    statusCodes,
    startedAt,
    finishedAt: startedAt + Math.round(lastResponse - start),
  };
}
