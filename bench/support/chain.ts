/**
 * The 3-hop no-op chain every layout of the engine phase runs: the same entries, the same hops,
 * whether driven by the StreamRunner, by raw ioredis calls or by BullMQ, in one process or one
 * process per hop.
 */
import { encodeEvent, type EventType, type TicketEvent } from '../../src/events.js';
import type { AnyStage, Stage } from '../../src/consumers/stage.js';
import { uuidv7 } from '../../src/streams/ids.js';
import type { RedisClient } from '../../src/streams/redis.js';
import type { FollowOn } from '../../src/streams/processor.js';

const emptyContext = { similarTickets: [], assets: [], unmatchedIps: [], kbArticles: [] };

/** The chain's three hops as no-op stages with trivially valid follow-on data. */
export const hops: { name: string; handles: EventType; emit: FollowOn }[] = [
  {
    name: 'hop1',
    handles: 'ticket.received',
    emit: { type: 'ticket.context_gathered', data: { context: emptyContext } },
  },
  {
    name: 'hop2',
    handles: 'ticket.context_gathered',
    emit: {
      type: 'ticket.enhanced',
      data: {
        enhancement: {
          summary: 's',
          likelyCause: '',
          suggestedCategory: '',
          suggestedPriority: 'low',
          nextSteps: [],
          confidence: 0.5,
        },
        model: 'bench',
        tokens: { prompt: 0, completion: 0 },
        latencyMs: 0,
      },
    },
  },
  {
    name: 'hop3',
    handles: 'ticket.enhanced',
    emit: { type: 'ticket.written_back', data: { target: 'none', noteId: null, status: null } },
  },
];

export function noopStage(hop: (typeof hops)[number]): AnyStage {
  const stage: Stage = { name: hop.name, handles: [hop.handles], handle: async () => [hop.emit] };
  return stage as AnyStage;
}

function receivedEvent(tenant: string, n: number): TicketEvent {
  const id = uuidv7();
  return {
    id,
    type: 'ticket.received',
    v: 1,
    tenant,
    ticket: `E-${n}`,
    ts: Date.now(),
    causation: '',
    correlation: id,
    traceparent: '00-00000000000000000000000000000000-0000000000000000-00',
    data: {
      action: 'ticket.created',
      ticket: { id: `E-${n}`, subject: `Ticket ${n}`, description: 'Bench ticket for the stream engine.' },
      deliveryId: `bench-${n}`,
    },
  };
}

/** The stream entries (field lists) every layout starts from. */
export function* tickets(tenant: string, items: number): Iterable<string[]> {
  for (let n = 0; n < items; n++) yield encodeEvent(receivedEvent(tenant, n));
}

export async function preload(redis: RedisClient, stream: string, entries: Iterable<string[]>): Promise<void> {
  let pipeline = redis.pipeline();
  let queued = 0;
  for (const fields of entries) {
    pipeline.xadd(stream, '*', ...fields);
    if (++queued % 1_000 === 0) {
      await pipeline.exec();
      pipeline = redis.pipeline();
    }
  }
  await pipeline.exec();
}

export async function unlinkMatching(redis: RedisClient, pattern: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = (await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1_000)) as [string, string[]];
    if (keys.length > 0) await redis.unlink(...keys);
    cursor = next;
  } while (cursor !== '0');
}

/** The raw ceiling's hop: XREADGROUP COUNT/BLOCK, then per entry MULTI{XADD next, XACK} in one pipeline per batch. */
export async function rawHop(
  connection: RedisClient,
  from: string,
  to: string,
  settings: { rawCount: number; blockMs: number },
  running: () => boolean,
): Promise<void> {
  while (running()) {
    const reply = (await connection.xreadgroup(
      'GROUP',
      'g',
      'c',
      'COUNT',
      settings.rawCount,
      'BLOCK',
      settings.blockMs,
      'STREAMS',
      from,
      '>',
    )) as [string, [string, string[]][]][] | null;
    const entries = reply?.[0]?.[1] ?? [];
    if (entries.length === 0) continue;
    const pipeline = connection.pipeline();
    for (const [id, fields] of entries) {
      pipeline.call('MULTI');
      pipeline.xadd(to, '*', ...fields);
      pipeline.xack(from, 'g', id);
      pipeline.call('EXEC');
    }
    await pipeline.exec();
  }
}
