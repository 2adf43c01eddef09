import { z } from 'zod';
import type { RedisKeys } from './keys.js';
import type { RedisClient } from './redis.js';

/**
 * A pending entry's failures so far, kept per group in `sd:{t}:retry:<group>` (one hash field per
 * entry id) so that a consumer taking it over after a crash goes on counting; settle.lua removes it.
 */
export type RetryRecord = { failures: number; firstFailedAt: number; lastError: string };

const retryRecordSchema = z.object({ failures: z.number(), firstFailedAt: z.number(), lastError: z.string() });

export function encodeRetryRecord(record: RetryRecord): string {
  return JSON.stringify(record);
}

/** A stored record, or undefined for none or one that cannot be read (the entry then counts from scratch). */
function parseRetryRecord(stored: string | null | undefined): RetryRecord | undefined {
  if (!stored) return undefined;
  try {
    const parsed = retryRecordSchema.safeParse(JSON.parse(stored));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** The records of some of a group's entries on a tenant, in the order of `ids`. */
export async function readRetryRecords(
  redis: RedisClient,
  keys: RedisKeys,
  tenant: string,
  group: string,
  ids: readonly string[],
): Promise<(RetryRecord | undefined)[]> {
  const stored = await redis.hmget(keys.retryState(tenant, group), ...ids);
  return stored.map((record) => parseRetryRecord(record));
}
