/**
 * Top self time of a V8 CPU profile, by function and file, and by package.
 *
 *   npx tsx bench/profile-summary.ts <file.cpuprofile | directory> [--top 25]
 *
 * A directory: its largest .cpuprofile (a `NODE_OPTIONS=--cpu-prof` run of `npx tsx` writes one
 * for the tsx launcher as well, which is tiny).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';

type CallFrame = { functionName: string; url: string; lineNumber: number; columnNumber: number };
type ProfileNode = { id: number; callFrame: CallFrame; hitCount?: number; children?: number[] };
type CpuProfile = {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
};

export type SelfTime = { name: string; selfMs: number; share: number };

const root = process.cwd();

function largestProfile(path: string): string {
  if (!statSync(path).isDirectory()) return path;
  const files = readdirSync(path)
    .filter((name) => name.endsWith('.cpuprofile'))
    .map((name) => join(path, name));
  if (files.length === 0) throw new Error(`No .cpuprofile in ${path}`);
  return files.sort((a, b) => statSync(b).size - statSync(a).size)[0]!;
}

function where(url: string): string {
  if (!url) return '';
  const path = url.startsWith('file://') ? decodeURIComponent(new URL(url).pathname) : url;
  return path.startsWith('/') ? relative(root, path) : path;
}

/** node_modules/<package>, src/<folder>, node:internal, or a V8 pseudo-node such as (garbage collector). */
function packageOf(frame: CallFrame): string {
  const path = where(frame.url);
  if (!path) return frame.functionName.startsWith('(') ? frame.functionName : '(native)';
  const module = path.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/);
  if (module) return module[1]!;
  if (path.startsWith('node:')) return 'node: (core)';
  const own = path.match(/^(src|bench|test)\/([^/]+)/);
  return own ? `${own[1]}/${own[2]}` : path;
}

/** Self time per node from the samples and their time deltas (µs), summed by `key`. */
function selfTimes(profile: CpuProfile, key: (node: ProfileNode) => string): { rows: SelfTime[]; totalMs: number } {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const totals = new Map<string, number>();
  let totalUs = 0;
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  for (let i = 0; i < samples.length; i++) {
    // A sample's time is the gap until the next sample.
    const us = deltas[i + 1] ?? 0;
    const node = byId.get(samples[i]!);
    if (!node || us <= 0) continue;
    const name = key(node);
    totals.set(name, (totals.get(name) ?? 0) + us);
    totalUs += us;
  }
  const rows = [...totals.entries()]
    .map(([name, us]) => ({ name, selfMs: us / 1_000, share: totalUs > 0 ? us / totalUs : 0 }))
    .sort((a, b) => b.selfMs - a.selfMs);
  return { rows, totalMs: totalUs / 1_000 };
}

export function summarise(path: string, top: number): string {
  const file = largestProfile(path);
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byFunction = selfTimes(profile, ({ callFrame }) => {
    const at = where(callFrame.url);
    // tsx-compiled modules report line 1 for everything: the name and file are what identify them.
    const line = callFrame.lineNumber > 0 ? `:${callFrame.lineNumber + 1}` : '';
    return `${callFrame.functionName || '(anonymous)'}${at ? `  ${at}${line}` : ''}`;
  });
  const byPackage = selfTimes(profile, ({ callFrame }) => packageOf(callFrame));
  const idle = byFunction.rows.find((row) => row.name === '(idle)')?.selfMs ?? 0;
  const busy = byFunction.totalMs - idle;
  const ofBusy = (row: SelfTime) =>
    row.name === '(idle)' || busy <= 0 ? '    -' : ((row.selfMs / busy) * 100).toFixed(1).padStart(5);
  const line = (row: SelfTime) =>
    `${row.selfMs.toFixed(0).padStart(8)} ms  ${(row.share * 100).toFixed(1).padStart(5)} %  ${ofBusy(row)} %  ${row.name}`;
  const header = `${'self'.padStart(11)}  ${'total'.padStart(7)}  ${'busy'.padStart(7)}  `;
  return [
    `${relative(root, file)}: ${(byFunction.totalMs / 1_000).toFixed(1)} s sampled, ${(busy / 1_000).toFixed(1)} s busy (not idle)`,
    '',
    `top ${top} functions by self time`,
    `${header}function  file:line`,
    ...byFunction.rows.slice(0, top).map(line),
    '',
    `by package / module (self time)`,
    `${header}package`,
    ...byPackage.rows.slice(0, top).map(line),
  ].join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values, positionals } = parseArgs({
    options: { top: { type: 'string', default: '25' } },
    allowPositionals: true,
  });
  const [path] = positionals;
  if (!path) {
    process.stderr.write('usage: npx tsx bench/profile-summary.ts <file.cpuprofile | directory> [--top 25]\n');
    process.exit(2);
  }
  process.stdout.write(`${summarise(path, Number(values.top))}\n`);
}
