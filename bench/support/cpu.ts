import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** CPU time (seconds) per party on this machine: what the 2 cores were spent on during a run. */
export type CpuParties = {
  streamdesk: number;
  loadGenerator: number;
  postgres: number;
  redis: number;
  other: number;
  /** Streamdesk processes the bench started, by the label it gave them (`worker-2`, say): included in `streamdesk`. */
  byProcess?: Record<string, number>;
};

type Party = Exclude<keyof CpuParties, 'byProcess'>;

export type CpuSnapshot =
  | {
      at: number;
      processes: Map<number, { party: Party; label?: string; seconds: number }>;
      reapedChildren: number;
    }
  | undefined;

let ticksPerSecond: number | undefined;

function clockTicks(): number {
  ticksPerSecond ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  return ticksPerSecond;
}

type ProcStat = { pid: number; comm: string; ppid: number; ticks: number; childTicks: number };

function readStat(pid: string): ProcStat | undefined {
  try {
    const raw = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const close = raw.lastIndexOf(')');
    const comm = raw.slice(raw.indexOf('(') + 1, close);
    // Fields after "(comm)": state ppid … utime(14) stime(15) cutime(16) cstime(17), counted from 1 with pid.
    const rest = raw.slice(close + 2).split(' ');
    const field = (n: number) => Number(rest[n - 3]);
    return { pid: Number(pid), comm, ppid: field(4), ticks: field(14) + field(15), childTicks: field(16) + field(17) };
  } catch {
    return undefined;
  }
}

function partyOf(stat: ProcStat, labelled: boolean): Party {
  if (stat.pid === process.pid || labelled) return 'streamdesk';
  // Before the parent test: a Redis Cluster the bench started is Redis, not load.
  if (stat.comm === 'postgres') return 'postgres';
  if (stat.comm.startsWith('redis-server')) return 'redis';
  if (stat.ppid === process.pid) return 'loadGenerator';
  return 'other';
}

/**
 * Linux only (undefined elsewhere). This process is streamdesk (and the bench driver); its children
 * are the load generator, counted while alive and, once reaped, through this process's cutime.
 * Per process, so that one exiting in between (an idle pool connection closing) does not take its
 * whole past CPU time out of the sum; a process that exits in between loses its last ticks.
 * `streamdeskProcesses`: child processes that run streamdesk (pid → label), counted as streamdesk.
 */
export function cpuSnapshot(streamdeskProcesses: ReadonlyMap<number, string> = new Map()): CpuSnapshot {
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  } catch {
    return undefined;
  }
  const hz = clockTicks();
  const processes = new Map<number, { party: Party; label?: string; seconds: number }>();
  let reapedChildren = 0;
  for (const pid of pids) {
    const stat = readStat(pid);
    if (!stat) continue;
    const label = streamdeskProcesses.get(stat.pid);
    processes.set(stat.pid, {
      party: partyOf(stat, label !== undefined),
      ...(label !== undefined ? { label } : {}),
      seconds: stat.ticks / hz,
    });
    if (stat.pid === process.pid) reapedChildren = stat.childTicks / hz;
  }
  return { at: performance.now(), processes, reapedChildren };
}

/** Cores used per party between two snapshots (CPU seconds / wall seconds), rounded to 0.01. */
export function coresUsed(from: CpuSnapshot, to: CpuSnapshot): CpuParties | undefined {
  if (!from || !to) return undefined;
  const seconds: Record<Party, number> = {
    streamdesk: 0,
    loadGenerator: to.reapedChildren - from.reapedChildren,
    postgres: 0,
    redis: 0,
    other: 0,
  };
  const byLabel = new Map<string, number>();
  for (const [pid, now] of to.processes) {
    const before = from.processes.get(pid);
    const used = Math.max(0, now.seconds - (before?.seconds ?? 0));
    seconds[now.party] += used;
    if (now.label !== undefined) byLabel.set(now.label, (byLabel.get(now.label) ?? 0) + used);
  }
  // A child reaped in between is in the reaped total with its whole life: take out what it had used before.
  for (const [pid, before] of from.processes) {
    if (before.party === 'loadGenerator' && !to.processes.has(pid)) seconds.loadGenerator -= before.seconds;
  }
  const wall = (to.at - from.at) / 1_000;
  const toCores = (used: number) => Math.round((used / wall) * 100) / 100;
  const cores = (key: Party) => toCores(seconds[key]);
  return {
    streamdesk: cores('streamdesk'),
    loadGenerator: cores('loadGenerator'),
    postgres: cores('postgres'),
    redis: cores('redis'),
    other: cores('other'),
    ...(byLabel.size > 0
      ? { byProcess: Object.fromEntries([...byLabel].map(([label, used]) => [label, toCores(used)])) }
      : {}),
  };
}
