// Production build: compiles src/ and otel/ with the project's own TypeScript into dist/, then
// copies the runtime assets tsc does not emit (Lua scripts, SQL files) beside the compiled code,
// because the code loads them relative to its own module URL (dist/src/streams/lua/*.lua, ...),
// and bundles the console's front end into dist/console.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { dirname, extname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const outDir = join(root, 'dist');
const sourceDir = join(root, 'src');
const typescriptSources = new Set(['.ts', '.mts', '.cts', '.tsx']);

/** Every file under `dir`, as paths relative to it; dotfiles and dot-directories are skipped. */
function filesUnder(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    if (entry.name.startsWith('.')) return [];
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return filesUnder(path).map((file) => join(entry.name, file));
    return entry.isFile() ? [entry.name] : [];
  });
}

// A clean output directory: a migration or script deleted from src/ must not survive in dist/.
rmSync(outDir, { recursive: true, force: true });

const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
const compiled = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], {
  cwd: root,
  stdio: 'inherit',
});
if (compiled.error) throw compiled.error;
if (compiled.status !== 0) {
  process.stderr.write(`build: tsc exited with status ${compiled.status ?? compiled.signal}\n`);
  process.exit(compiled.status ?? 1);
}

const assets = filesUnder(sourceDir).filter((file) => !typescriptSources.has(extname(file)));
const perExtension = new Map();
for (const file of assets) {
  const target = join(outDir, 'src', file);
  mkdirSync(dirname(target), { recursive: true });
  copyFileSync(join(sourceDir, file), target);
  perExtension.set(extname(file) || '(none)', (perExtension.get(extname(file) || '(none)') ?? 0) + 1);
}
// The console's front end (console/src, Preact) is bundled into dist/console by the compiled builder.
const { buildConsole } = await import(new URL('../dist/src/console/build.js', import.meta.url).href);
const consoleBuild = await buildConsole();
const summary = [...perExtension].map(([extension, count]) => `${count} ${extension}`).join(', ') || 'none';
process.stdout.write(
  `build: compiled into ${relative(root, outDir)}/, copied assets: ${summary}; console bundled into ${relative(root, consoleBuild.outDir)}/ (${consoleBuild.bytes} bytes)\n`,
);
