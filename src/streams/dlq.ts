import type { RedisKeys } from './keys.js';
import type { Lane } from './lanes.js';
import { fieldsToRecord } from '../events.js';
import type { RedisClient } from './redis.js';
import { streamEntries } from './reply.js';
import { redrive } from './scripts.js';
import { markWork } from './work.js';

export type DeadLetter = {
  id: string;
  entry: string;
  /** The lane the entry was read from; a redrive puts it back there. */
  lane: Lane;
  group: string;
  code: string;
  message: string;
  attempts: number;
  firstFailedAt: string;
  lastFailedAt: string;
  event: Record<string, string>;
};

/** The fields of a dead-letter entry (read back by `listDeadLetters`). */
export function deadLetterFields(letter: Omit<DeadLetter, 'id' | 'event'> & { fields: readonly string[] }): string[] {
  const event = fieldsToRecord(letter.fields);
  return [
    'entry',
    letter.entry,
    'lane',
    letter.lane,
    'group',
    letter.group,
    'code',
    letter.code,
    'message',
    letter.message,
    'attempts',
    String(letter.attempts),
    'firstFailedAt',
    letter.firstFailedAt,
    'lastFailedAt',
    letter.lastFailedAt,
    'event',
    JSON.stringify(event),
  ];
}

function toDeadLetter(id: string, fields: string[]): DeadLetter {
  const record = fieldsToRecord(fields);
  let event: Record<string, string> = {};
  try {
    event = JSON.parse(record.event ?? '{}') as Record<string, string>;
  } catch {
    // A dead letter is shown even when its copy of the entry is unreadable.
  }
  return {
    id,
    entry: record.entry ?? '',
    // Dead letters from before the priority lane existed came from the normal lane.
    lane: record.lane === 'priority' ? 'priority' : 'normal',
    group: record.group ?? '',
    code: record.code ?? '',
    message: record.message ?? '',
    attempts: Number(record.attempts ?? 0),
    firstFailedAt: record.firstFailedAt ?? '',
    lastFailedAt: record.lastFailedAt ?? '',
    event,
  };
}

export async function listDeadLetters(
  redis: RedisClient,
  keys: RedisKeys,
  tenant: string,
  limit = 100,
): Promise<DeadLetter[]> {
  const entries = streamEntries('XRANGE', await redis.xrange(keys.dlq(tenant), '-', '+', 'COUNT', limit));
  return entries.map(([id, fields]) => toDeadLetter(id, fields));
}

/** Stream field that addresses a redriven entry to the one group that dead-lettered it. */
export const redriveForField = 'redrive-for';

/**
 * Puts dead letters back on the lane they came from as new deliveries (original event ids kept) for
 * the group that dead-lettered them only — the other groups acknowledge them without work — and
 * removes them from the DLQ in the same step.
 */
export async function redriveDeadLetters(
  redis: RedisClient,
  keys: RedisKeys,
  tenant: string,
  ids?: readonly string[],
): Promise<{ redriven: number; missing: string[] }> {
  const dlqKey = keys.dlq(tenant);
  const letters =
    ids && ids.length > 0
      ? (
          await Promise.all(ids.map(async (id) => streamEntries('XRANGE', await redis.xrange(dlqKey, id, id))[0]))
        ).filter((entry) => entry !== undefined)
      : streamEntries('XRANGE', await redis.xrange(dlqKey, '-', '+'));
  const found = new Set(letters.map(([id]) => id));
  let redriven = 0;
  for (const [id, fields] of letters) {
    const letter = toDeadLetter(id, fields);
    const { [redriveForField]: _earlierRedrive, ...original } = letter.event;
    const eventFields = Object.entries(original).flat();
    if (eventFields.length === 0) continue;
    if (letter.group) eventFields.push(redriveForField, letter.group);
    const appended = await redrive(
      redis,
      {
        lane: keys.lane(tenant, letter.lane),
        otherLane: keys.otherLane(tenant, letter.lane),
        dlq: dlqKey,
        laneSequence: keys.laneSequence(tenant),
        letterId: id,
      },
      eventFields,
    );
    if (appended !== null) redriven += 1;
  }
  if (redriven > 0) await markWork(redis, keys, [tenant]);
  return { redriven, missing: (ids ?? []).filter((id) => !found.has(id)) };
}
