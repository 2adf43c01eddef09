import { currentVersion, type TicketEvent, type TicketEventOf } from '../events.js';
import { derivedEventId } from './ids.js';
import type { FollowOn } from './processor.js';

/**
 * The envelope of an event a handler emitted for `input`: same tenant, ticket and correlation,
 * caused by the input, with an id derived from the input, the group, its position and the replay run
 * (if any), so a re-run emits the same id again and is recognised as a repeat.
 */
export function followOnEvent(
  input: TicketEvent,
  followOn: FollowOn,
  options: { group: string; index: number; traceparent: string; replay?: string | undefined },
): TicketEvent {
  const replay = options.replay ?? input.replay;
  return {
    id: derivedEventId(input.id, options.group, String(options.index), ...(options.replay ? [options.replay] : [])),
    type: followOn.type,
    v: currentVersion[followOn.type],
    tenant: input.tenant,
    ticket: input.ticket,
    ts: Date.now(),
    causation: input.id,
    correlation: input.correlation,
    traceparent: options.traceparent,
    ...(replay ? { replay } : {}),
    data: followOn.data,
  } as TicketEvent;
}

/** The ticket.failed event announcing that `input` was dead-lettered by `group`. */
export function failedEvent(
  input: TicketEvent,
  failure: { group: string; streamId: string; code: string; message: string; attempts: number; traceparent: string },
): TicketEventOf<'ticket.failed'> {
  return {
    ...followOnEvent(
      input,
      {
        type: 'ticket.failed',
        data: {
          stage: failure.group,
          failedEventId: input.id,
          failedEventType: input.type,
          error: { code: failure.code, message: failure.message },
          attempts: failure.attempts,
        },
      },
      {
        group: failure.group,
        index: 0,
        traceparent: failure.traceparent,
      },
    ),
    // One per dead-lettered entry: a redriven event that fails again announces it again.
    id: derivedEventId(input.id, failure.group, 'failed', failure.streamId),
  } as TicketEventOf<'ticket.failed'>;
}
