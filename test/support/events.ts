import { currentVersion, encodeEvent, fieldsToRecord, type TicketEvent } from '../../src/events.js';
import { uuidv7 } from '../../src/streams/ids.js';
import type { Services } from '../../src/runtime/services.js';
import { markWork } from '../../src/streams/work.js';

export function receivedEvent(tenant: string, ticket: string, overrides: Partial<TicketEvent> = {}): TicketEvent {
  const id = uuidv7();
  return {
    id,
    type: 'ticket.received',
    v: currentVersion['ticket.received'],
    tenant,
    ticket,
    ts: Date.now(),
    causation: '',
    correlation: id,
    traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
    data: {
      action: 'ticket.created',
      ticket: { id: ticket, subject: `Subject ${ticket}`, description: `Description ${ticket}` },
      deliveryId: id,
    },
    ...overrides,
  } as TicketEvent;
}

/** Appends an event straight to a tenant's stream and marks it as work, as ingest would. Returns its stream id. */
export async function appendEvent(services: Services, event: TicketEvent): Promise<string> {
  const id = (await services.redis.xadd(services.keys.events(event.tenant), '*', ...encodeEvent(event)))!;
  await markWork(services.redis, services.keys, [services.keys.workMark(event.tenant, 'normal')]);
  return id;
}

/** Every entry of a tenant's stream as [stream id, fields as an object]. */
export async function readStream(services: Services, tenant: string): Promise<[string, Record<string, string>][]> {
  const entries = (await services.redis.xrange(services.keys.events(tenant), '-', '+')) as [string, string[]][];
  return entries.map(([id, fields]) => [id, fieldsToRecord(fields)]);
}

/** Pending-entry count of a group on a tenant's stream. */
export async function pendingCount(services: Services, tenant: string, group: string): Promise<number> {
  const [count] = (await services.redis.xpending(services.keys.events(tenant), group)) as [number];
  return Number(count);
}
