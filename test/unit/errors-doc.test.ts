import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { errorCatalogue } from '../../src/errors.js';

describe('docs/errors.md', () => {
  const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
  const rows = new Map(
    [...doc.matchAll(/^\| `([A-Z_]+)` \| (\d{3}) \| (yes|no) \|/gm)].map((match) => [
      match[1]!,
      { status: Number(match[2]), retryable: match[3] === 'yes' },
    ]),
  );

  it('documents every error code with its HTTP status and whether it is retried', () => {
    for (const [code, entry] of Object.entries(errorCatalogue)) {
      expect(rows.get(code), `docs/errors.md row for ${code}`).toEqual({
        status: entry.status,
        retryable: entry.retryable,
      });
    }
  });

  it('documents no code that does not exist', () => {
    expect([...rows.keys()].filter((code) => !(code in errorCatalogue))).toEqual([]);
  });
});
