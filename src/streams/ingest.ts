import type { RedisKeys } from './keys.js';
import type { RedisClient } from './redis.js';
import { markWork } from './work.js';

export type IngestOutcome =
  { outcome: 'appended'; eventId: string; streamId: string } | { outcome: 'duplicate' | 'conflict'; eventId: string };

/**
 * The one wrapper of ingest.lua: appends an entry unless its delivery marker or dedupe key says it
 * was seen, then marks the tenant as having work (see work.ts).
 */
export async function appendUnlessSeen(
  redis: RedisClient,
  input: {
    /** The lane to append to, and the tenant's other lane (both lanes share one id sequence). */
    stream: string;
    otherLane: string;
    laneSequence: string;
    marker: string;
    markerTtlSeconds: number;
    eventId: string;
    bodyHash?: string;
    dedupe?: { key: string; ttlSeconds: number };
    fields: string[];
    /** Who to mark as having work once appended. */
    work: { keys: RedisKeys; tenant: string };
  },
): Promise<IngestOutcome> {
  const lanes = [input.stream, input.otherLane, input.laneSequence];
  const keys = input.dedupe ? [...lanes, input.marker, input.dedupe.key] : [...lanes, input.marker];
  const reply = await redis.sdIngest(
    keys.length,
    ...keys,
    input.markerTtlSeconds,
    input.eventId,
    input.bodyHash ?? '',
    input.dedupe?.ttlSeconds ?? 0,
    ...input.fields,
  );
  const [code, eventId] = reply;
  if (code === 1) {
    // The entry is stored; without its mark, readers still find it with their next full read.
    await markWork(redis, input.work.keys, [input.work.tenant]).catch(() => undefined);
    return { outcome: 'appended', eventId, streamId: reply[2] };
  }
  return { outcome: code === 2 ? 'conflict' : 'duplicate', eventId };
}
