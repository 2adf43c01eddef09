import { toStreamdeskError, type StreamdeskError } from '../errors.js';
import { decodeEvent, type TicketEvent } from '../events.js';
import type { RedisKeys } from './keys.js';
import type { Lane } from './lanes.js';
import type { RetryRecord } from './retry-records.js';

/** An entry this consumer holds (read or taken over) until it is settled or left pending. */
export type Delivery = {
  tenant: string;
  /** The lane's stream key it was read from: a batch holds entries of one stream. */
  stream: string;
  lane: Lane;
  streamId: string;
  fields: string[];
  event: TicketEvent | undefined;
  decodeError: StreamdeskError | undefined;
  failures: number;
  firstFailedAt: number | undefined;
  /** Times Redis handed this entry out (from the pending entries list). */
  deliveries: number;
  /** Consecutive runs that failed because Redis or Postgres was down; they do not count as attempts. */
  outages: number;
  /** The wait a peer asked for with its last failure (a 429's Retry-After). */
  retryAfterMs: number | undefined;
  /** Another consumer owns it now (reported once; its late result will be dropped). */
  takenOver?: boolean;
};

/** An entry of `stream` (a lane's key) as delivered: decoded, or with the reason it cannot be. */
export function toDelivery(
  keys: RedisKeys,
  stream: string,
  entry: Readonly<{ id: string; fields: string[]; deliveries: number; retry?: RetryRecord | undefined }>,
): Delivery {
  let event: TicketEvent | undefined;
  let decodeError: StreamdeskError | undefined;
  try {
    event = decodeEvent(entry.fields);
  } catch (error) {
    decodeError = toStreamdeskError(error);
  }
  return {
    tenant: keys.tenantOf(stream),
    stream,
    lane: keys.laneOf(stream),
    streamId: entry.id,
    fields: entry.fields,
    event,
    decodeError,
    failures: entry.retry?.failures ?? 0,
    firstFailedAt: entry.retry?.firstFailedAt,
    deliveries: entry.deliveries,
    outages: 0,
    retryAfterMs: undefined,
  };
}
