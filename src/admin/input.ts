import type { z } from 'zod';
import { StreamdeskError } from '../errors.js';

/** Validates an external input; a failure is a BAD_REQUEST naming each field and what is wrong with it. */
export function parseInput<T>(schema: z.ZodType<T>, value: unknown): T {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const details = parsed.error.issues.map((issue) => ({ path: issue.path.join('.'), message: issue.message }));
  throw new StreamdeskError('BAD_REQUEST', details.map((d) => `${d.path || 'input'}: ${d.message}`).join('; '), details);
}
