import { z } from 'zod';
import { StreamdeskError } from '../errors.js';

/** Redis answers field/value lists flat (`[f1, v1, f2, v2, …]`); this turns one into a record. */
export function toRecord(flat: readonly unknown[]): Record<string, unknown> {
  const record: Record<string, unknown> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) record[String(flat[i])] = flat[i + 1];
  return record;
}

// Replies are checked where they are read: a reply of another shape (a proxy, another Redis version) is an
// INTERNAL error naming the command, never a value taken on trust.
const streamEntriesReply = z.array(z.tuple([z.string(), z.array(z.string())]));
const flatListsReply = z.array(z.array(z.unknown()));
const pendingSummaryReply = z.tuple([z.number(), z.string().nullable()]).rest(z.unknown());

function parsed<T>(command: string, schema: z.ZodType<T>, reply: unknown): T {
  const result = schema.safeParse(reply);
  if (result.success) return result.data;
  throw new StreamdeskError('INTERNAL', `${command} answered ${JSON.stringify(reply) ?? String(reply)}`);
}

/** XRANGE / XREVRANGE: [id, [field, value, …]] per entry. */
export function streamEntries(command: string, reply: unknown): [id: string, fields: string[]][] {
  return parsed(command, streamEntriesReply, reply);
}

/** XINFO GROUPS / CONSUMERS: one flat field/value list per item, as records. */
export function infoRecords(command: string, reply: unknown): Record<string, unknown>[] {
  return parsed(command, flatListsReply, reply).map((flat) => toRecord(flat));
}

/** XPENDING's summary form: the number of pending entries and the oldest one's id (null when none). */
export function pendingSummary(reply: unknown): { count: number; oldestId: string | null } {
  const [count, oldestId] = parsed('XPENDING', pendingSummaryReply, reply);
  return { count, oldestId };
}
