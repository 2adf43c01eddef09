import { buildConsole } from '../../src/console/build.js';

/** Vitest global setup: the console is built once before any test file runs, as `npm run build` would. */
export default async function setup(): Promise<void> {
  await buildConsole();
}
