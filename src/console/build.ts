import { copyFileSync, existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package root, found from this module whether it runs from src/ (tsx) or dist/src/ (built). */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
}

const root = packageRoot();
/** The console's front-end sources (Preact components in TSX, the page and its style sheet). */
export const consoleSourceDir = join(root, 'console');
/** What streamdesk serves at /console: built by `npm run build`, by the tests' setup, or at start when missing. */
export const consoleBuildDir = join(root, 'dist', 'console');
const staticFiles = ['index.html', 'style.css'];

function newestSource(dir: string): number {
  return Math.max(
    0,
    ...readdirSync(dir, { withFileTypes: true }).map((entry) =>
      entry.isDirectory() ? newestSource(join(dir, entry.name)) : statSync(join(dir, entry.name)).mtimeMs,
    ),
  );
}

/** True when the sources are here and the build is missing or older than one of them. */
export function consoleBuildIsStale(): boolean {
  if (!existsSync(consoleSourceDir)) return false;
  const built = join(consoleBuildDir, 'assets', 'console.js');
  return !existsSync(built) || statSync(built).mtimeMs < newestSource(consoleSourceDir);
}

/** Bundles the console with esbuild (a dev dependency: production images ship the built files). */
export async function buildConsole(): Promise<{ outDir: string; bytes: number }> {
  const esbuild = await import('esbuild');
  mkdirSync(join(consoleBuildDir, 'assets'), { recursive: true });
  for (const file of staticFiles)
    copyFileSync(
      join(consoleSourceDir, file),
      join(consoleBuildDir, file === 'index.html' ? file : join('assets', file)),
    );
  const result = await esbuild.build({
    entryPoints: [join(consoleSourceDir, 'src', 'main.tsx')],
    outfile: join(consoleBuildDir, 'assets', 'console.js'),
    bundle: true,
    format: 'esm',
    target: 'es2022',
    minify: true,
    jsx: 'automatic',
    jsxImportSource: 'preact',
    logLevel: 'silent',
    metafile: true,
  });
  const bytes = Object.values(result.metafile.outputs).reduce((sum, output) => sum + output.bytes, 0);
  return { outDir: consoleBuildDir, bytes };
}
