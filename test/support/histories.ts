import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { currentVersion, type TicketEvent } from '../../src/events.js';
import type { StreamEvent } from '../../src/streams/processor.js';

/** What a generated ticket.created / ticket.updated carries besides subject and description. */
type TicketFields = {
  priority?: string;
  category?: string;
  requester?: { name?: string; email?: string };
  createdAt?: string;
};
/** One pipeline step: how many times it failed (each failure announced), then whether it succeeded. */
type Step = { failures: number; succeeds: boolean };
type Cycle = { fields: TicketFields; steps: Step[] };
/** A ticket's life: created, then updated zero or more times; each time the pipeline runs again. */
export type TicketScript = Cycle[];

const fieldsArb: fc.Arbitrary<TicketFields> = fc.record(
  {
    priority: fc.constantFrom('low', 'medium', 'high'),
    category: fc.constantFrom('Network', 'Printing', 'Mail'),
    requester: fc.record({ email: fc.constantFrom('a@example.com', 'b@example.com') }),
    createdAt: fc.constantFrom('2026-01-01T10:00:00Z', '2026-01-02T10:00:00Z'),
  },
  { requiredKeys: [] },
);
const stepArb: fc.Arbitrary<Step> = fc
  .record({ failures: fc.constantFrom(0, 0, 0, 1, 2), succeeds: fc.boolean() })
  .map((step) => ({ ...step, succeeds: step.succeeds || step.failures === 0 }));
const cycleArb: fc.Arbitrary<Cycle> = fc.record({ fields: fieldsArb, steps: fc.array(stepArb, { maxLength: 3 }) });
export const ticketScriptArb: fc.Arbitrary<TicketScript> = fc.array(cycleArb, { minLength: 1, maxLength: 3 });

const stages = [
  { stage: 'context', input: 'ticket.received' },
  { stage: 'enhance', input: 'ticket.context_gathered' },
  { stage: 'writeback', input: 'ticket.enhanced' },
] as const;

function envelope(tenant: string, ticket: string, correlation: string): Omit<TicketEvent, 'type' | 'data'> {
  const id = randomUUID();
  return {
    id,
    v: 1,
    tenant,
    ticket,
    ts: 0,
    causation: correlation,
    correlation: correlation || id,
    traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
  };
}

/** A ticket's events in causal order, as the pipeline would append them (stream ids come later). */
function ticketEvents(tenant: string, ticket: string, script: TicketScript): TicketEvent[] {
  const events: TicketEvent[] = [];
  const push = (event: Omit<TicketEvent, 'v'>) =>
    events.push({ ...event, v: currentVersion[event.type] } as TicketEvent);
  script.forEach((cycle, n) => {
    const head = envelope(tenant, ticket, '');
    const ticketData = {
      id: ticket,
      subject: `Subject ${ticket} #${n}`,
      description: `Description ${ticket} #${n}`,
      ...cycle.fields,
    };
    push({
      ...head,
      type: 'ticket.received',
      data: { action: n === 0 ? 'ticket.created' : 'ticket.updated', ticket: ticketData, deliveryId: head.id },
    } as TicketEvent);
    let input = head.id;
    for (const [index, step] of cycle.steps.entries()) {
      const { stage, input: inputType } = stages[index]!;
      for (let attempt = 0; attempt < step.failures; attempt++) {
        push({
          ...envelope(tenant, ticket, head.id),
          type: 'ticket.failed',
          data: {
            stage,
            failedEventId: input,
            failedEventType: inputType,
            error: { code: 'HANDLER_FAILED', message: `${stage} failed (${n}.${attempt})` },
            attempts: 3,
          },
        } as TicketEvent);
      }
      if (!step.succeeds) break;
      const next = envelope(tenant, ticket, head.id);
      if (stage === 'context') {
        push({
          ...next,
          type: 'ticket.context_gathered',
          data: {
            context: {
              similarTickets: [],
              assets: [],
              unmatchedIps: [],
              kbArticles: [{ articleId: `KB-${n}`, title: `Article ${n}`, rank: 1 }],
            },
          },
        } as TicketEvent);
      } else if (stage === 'enhance') {
        const enhancement = {
          summary: `Summary ${n}`,
          likelyCause: 'cause',
          suggestedCategory: 'Network',
          suggestedPriority: 'high',
          nextSteps: [`step ${n}`],
          confidence: 0.5,
        };
        push({
          ...next,
          type: 'ticket.enhanced',
          data: { enhancement, model: 'offline', tokens: { prompt: 1, completion: n }, latencyMs: 5 },
        } as TicketEvent);
      } else {
        push({
          ...next,
          type: 'ticket.written_back',
          data: { target: 'none', noteId: `note-${n}`, status: null },
        } as TicketEvent);
      }
      input = next.id;
    }
  });
  return events;
}

/**
 * Interleaves the tickets' events into one tenant history with increasing stream ids (some sharing
 * a millisecond), as a stream would hold them. `picks` chooses which ticket appends next.
 */
export function tenantHistory(
  tenant: string,
  scripts: readonly TicketScript[],
  picks: readonly number[],
  startMs: number,
): StreamEvent[] {
  const queues = scripts.map((script, i) => ticketEvents(tenant, `T-${i}`, script));
  const history: StreamEvent[] = [];
  let pick = 0;
  while (queues.some((queue) => queue.length > 0)) {
    const open = queues.filter((queue) => queue.length > 0);
    const event = open[(picks[pick++ % Math.max(1, picks.length)] ?? 0) % open.length]!.shift()!;
    const ms = startMs + Math.floor(history.length / 3);
    history.push({ streamId: `${ms}-${history.length % 3}`, event: { ...event, ts: ms } as TicketEvent });
  }
  return history;
}

/** Splits a sequence at the given cut points into non-empty batches. */
export function splitAt<T>(items: readonly T[], cuts: readonly number[]): T[][] {
  const points = [...new Set(cuts.map((cut) => cut % Math.max(1, items.length)))]
    .filter((cut) => cut > 0)
    .sort((a, b) => a - b);
  const batches: T[][] = [];
  let start = 0;
  for (const point of [...points, items.length]) {
    if (point > start) batches.push(items.slice(start, point));
    start = point;
  }
  return batches;
}

const statusOf = {
  'ticket.received': 'received',
  'ticket.context_gathered': 'context_gathered',
  'ticket.enhanced': 'enhanced',
  'ticket.written_back': 'written_back',
  'ticket.failed': 'failed',
} as const;

/**
 * What a ticket's row must show, worked out from its history in plain code: the newest event decides
 * the status, each column comes from the newest event that carries it, a failure shows only if no
 * step succeeded after it, and every event counts once.
 */
export function expectedTicketRow(history: readonly StreamEvent[], ticket: string): Record<string, unknown> {
  const events = history.filter(({ event }) => event.ticket === ticket).map(({ event }) => event);
  const newestOf = <T extends TicketEvent['type']>(type: T) =>
    events.filter((event): event is Extract<TicketEvent, { type: T }> => event.type === type).at(-1);
  const received = events.filter(
    (event): event is Extract<TicketEvent, { type: 'ticket.received' }> => event.type === 'ticket.received',
  );
  const carried = (key: 'priority' | 'category' | 'requester') =>
    received.filter((event) => event.data.ticket[key] !== undefined).at(-1)?.data.ticket[key] ?? null;
  const lastSuccess = Math.max(
    -1,
    ...['ticket.context_gathered', 'ticket.enhanced', 'ticket.written_back'].map((type) =>
      events.findLastIndex((event) => event.type === type),
    ),
  );
  const failure = newestOf('ticket.failed');
  const newest = events.at(-1)!;
  return {
    status: statusOf[newest.type],
    last_event_id: newest.id,
    subject: received.at(-1)?.data.ticket.subject ?? null,
    priority: carried('priority'),
    category: carried('category'),
    requester: carried('requester'),
    context: newestOf('ticket.context_gathered')?.data.context ?? null,
    enhancement: newestOf('ticket.enhanced')
      ? { summary: newestOf('ticket.enhanced')!.data.enhancement.summary }
      : null,
    writeback: newestOf('ticket.written_back')?.data ?? null,
    failure: failure && events.indexOf(failure) > lastSuccess ? { message: failure.data.error.message } : null,
    version: events.length,
    event_ids: events.map((event) => event.id).sort(),
  };
}
