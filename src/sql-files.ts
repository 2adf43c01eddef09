import { readFileSync } from 'node:fs';

/**
 * Reads SQL statements kept one per file (each with a header documenting its parameters), from a
 * folder beside the calling module: `sqlFiles(new URL('./sql/', import.meta.url), { name: 'file-name' })`.
 */
export function sqlFiles<const T extends Record<string, string>>(
  folder: URL,
  files: T,
): { readonly [K in keyof T]: string } {
  return Object.fromEntries(
    Object.entries(files).map(([name, file]) => [name, readFileSync(new URL(`${file}.sql`, folder), 'utf8')]),
  ) as { [K in keyof T]: string };
}
