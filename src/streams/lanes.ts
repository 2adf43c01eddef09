import type { priorities } from '../events.js';

/**
 * A tenant has two event streams: the normal lane and the priority lane. A high or urgent ticket is
 * appended to the priority lane and every follow-on event stays in the lane of its input, so the
 * whole pipeline of such a ticket runs there. Readers take the priority lane first, with a share
 * (see `laneCounts`), so it overtakes a backlog without starving it. Both lanes draw their ids from
 * one sequence (lane-id.lua): an id names one entry of the tenant, whichever lane holds it.
 */
export type Lane = 'normal' | 'priority';

/** The lane of a ticket by its priority, as `normalizePriority` maps the helpdesk's names (none: normal). */
export function laneOfPriority(priority: (typeof priorities)[number] | undefined): Lane {
  return priority === 'high' || priority === 'urgent' ? 'priority' : 'normal';
}

/**
 * How many entries one read asks of a tenant's lanes, given the `count` its share of free capacity
 * allows: the priority lane up to ⌈count × share⌉; the normal lane what the priority lane left, and at
 * least count − ⌈count × share⌉ (never less than 1), so it keeps moving while the priority lane is busy.
 */
export function laneCounts(
  count: number,
  share: number,
): { priority: number; normalAfter: (priorityRead: number) => number } {
  const priority = Math.max(1, Math.ceil(count * share));
  const floor = Math.max(1, count - priority);
  return { priority, normalAfter: (priorityRead) => Math.max(floor, count - priorityRead) };
}
