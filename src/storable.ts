import { z } from 'zod';
import { StreamdeskError } from './errors.js';

const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Text that Postgres can store. `text` and `jsonb` refuse U+0000, and `jsonb` refuses a lone
 * UTF-16 surrogate (it arrives as a `\ud800` escape); either would be accepted at the door and
 * then fail in every stage. Input is refused where it enters instead, naming the field.
 */
export function unstorableReason(text: string): string | undefined {
  if (text.includes('\u0000')) return 'contains a NUL character (U+0000), which cannot be stored';
  if (loneSurrogate.test(text)) return 'contains a lone UTF-16 surrogate, which cannot be stored';
  return undefined;
}

/** A zod string that refuses unstorable text: `storableString().min(1).max(200)`. */
export const storableString = () =>
  z.string().check((ctx) => {
    const reason = unstorableReason(ctx.value);
    if (reason) ctx.issues.push({ code: 'custom', message: reason, input: ctx.value });
  });

export type UnstorableField = { path: string; message: string };

/** Every string (object keys included) in a parsed JSON value, form or argument list that cannot be stored. */
export function findUnstorable(value: unknown, path = ''): UnstorableField[] {
  if (typeof value === 'string') {
    const reason = unstorableReason(value);
    return reason ? [{ path, message: reason }] : [];
  }
  if (value === null || typeof value !== 'object' || Buffer.isBuffer(value)) return [];
  const found: UnstorableField[] = [];
  for (const [key, item] of Object.entries(value)) {
    const keyReason = unstorableReason(key);
    // A bad key is shown escaped, so the error naming it is itself storable.
    const shownKey = keyReason ? JSON.stringify(key) : key;
    const itemPath = path ? `${path}.${shownKey}` : shownKey;
    if (keyReason) found.push({ path: itemPath, message: `the field name ${keyReason}` });
    found.push(...findUnstorable(item, itemPath));
  }
  return found;
}

/** Throws BAD_REQUEST naming each field (`where` prefixes the paths: "body", "params", …) that cannot be stored. */
export function assertStorable(value: unknown, where: string): void {
  const found = findUnstorable(value, where);
  if (found.length === 0) return;
  throw new StreamdeskError('BAD_REQUEST', found.map((field) => `${field.path}: ${field.message}`).join('; '), found);
}

/**
 * assertStorable for `value`, parsed from the JSON `text`. Without a `\u` escape each parsed string
 * is a piece of the text between ASCII quotes, so a storable text needs no walk of the value.
 */
export function assertStorableJson(text: string, value: unknown, where: string): void {
  if (!text.includes('\\u') && unstorableReason(text) === undefined) return;
  assertStorable(value, where);
}
