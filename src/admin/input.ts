import type { z } from 'zod';
import { StreamdeskError } from '../errors.js';

/** A zod failure as a BAD_REQUEST naming each field (`whole` stands for the value itself) and what is wrong with it. */
export function badRequest(error: z.ZodError, whole = 'body'): StreamdeskError {
  const details = error.issues.map((issue) => ({ path: issue.path.join('.'), message: issue.message }));
  return new StreamdeskError('BAD_REQUEST', details.map((d) => `${d.path || whole}: ${d.message}`).join('; '), details);
}

/** Validates an external input; a failure is a BAD_REQUEST naming each field and what is wrong with it. */
export function parseInput<T>(schema: z.ZodType<T>, value: unknown, whole = 'input'): T {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  throw badRequest(parsed.error, whole);
}
