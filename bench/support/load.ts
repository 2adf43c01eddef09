import { fork } from 'node:child_process';
import type { Cleanups } from './cleanup.js';
import type { TicketTexts } from './tickets.js';

/**
 * One load run of signed ticket webhooks. `autocannon`: closed model, `connections` requests in
 * flight, for a duration or an amount, optionally with autocannon's overallRate (a per-second
 * budget: bursts). `paced`: open model at a steady overallRate for durationSeconds.
 */
export type LoadJob = {
  mode: 'autocannon' | 'paced';
  url: string;
  tenant: string;
  secret: string;
  /** Ticket and delivery ids are `<idPrefix>-<n>`: unique per job. */
  idPrefix: string;
  connections: number;
  durationSeconds?: number;
  amount?: number;
  overallRate?: number;
  /** Default `varied` (see tickets.ts). */
  texts?: TicketTexts;
};

export type LoadSummary = {
  sent: number;
  completed: number;
  ok2xx: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  durationSeconds: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number; mean: number };
  /** Paced only: how late the generator sent (p99); over a few ms, the generator itself was short of CPU. */
  sendLagMsP99?: number;
  statusCodes: Record<string, number>;
  startedAt: number;
  finishedAt: number;
};

type Reply = { ok: true; summary: LoadSummary } | { ok: false; error: string };

/** Without --cpu-prof: a profile of the bench run is a profile of streamdesk, not of the load generator. */
function childEnv(): NodeJS.ProcessEnv {
  const options = (process.env.NODE_OPTIONS ?? '')
    .split(/\s+/)
    .filter((option) => option && !option.startsWith('--cpu-prof'));
  return { ...process.env, NODE_OPTIONS: options.join(' ') };
}

/**
 * Runs the load in a child process (same Node, with tsx) and returns its summary. `onReady` runs
 * once the child has loaded and built its requests, just before it starts: start measuring there.
 */
export function runLoad(job: LoadJob, cleanups: Cleanups, onReady?: () => void): Promise<LoadSummary> {
  const child = fork(new URL('./load-child.ts', import.meta.url), [], {
    execArgv: ['--import', 'tsx'],
    env: childEnv(),
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const forget = cleanups.push('load generator child', async () => {
    child.kill('SIGKILL');
  });
  return new Promise<LoadSummary>((resolve, reject) => {
    let settled = false;
    child.on('message', (reply: Reply | 'loaded' | 'ready') => {
      if (reply === 'loaded') {
        child.send(job);
        return;
      }
      if (reply === 'ready') {
        onReady?.();
        child.send('go');
        return;
      }
      settled = true;
      if (reply.ok) resolve(reply.summary);
      else reject(new Error(`load generator failed: ${reply.error}`));
    });
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      forget();
      if (!settled) reject(new Error(`load generator exited (${signal ?? code}) without a result`));
    });
  });
}
