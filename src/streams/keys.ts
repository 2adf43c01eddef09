import type { Lane } from './lanes.js';

/**
 * A dedupe marker (markers.lua): a delivery's own string key (field ''), or a follow-on event's field of its
 * ticket's marker hashes with its string key from before they were folded.
 */
export type Marker = Readonly<{ key: string; field: string; legacyKey: string }>;

/** The one place that builds and parses Redis key names. Every tenant key carries the `{tenant}` hash tag. */
export type RedisKeys = ReturnType<typeof redisKeys>;

export function redisKeys(prefix: string) {
  const tenantKey = (tenant: string, suffix: string) => `${prefix}:{${tenant}}:${suffix}`;
  const laneKey = (tenant: string, lane: Lane) => tenantKey(tenant, lane === 'priority' ? 'events:priority' : 'events');
  return {
    prefix,
    tenantIds: `${prefix}:tenants`,
    tenantEntityPrefix: `${prefix}:tenant`,
    consumersSeen: `${prefix}:consumers`,
    /** Work marks (a tenant's lane, or a bare tenant id: both lanes) by the work sequence number of their latest append (sorted set; see work.ts). */
    workTenants: `${prefix}:work`,
    /** The work mark of one lane of a tenant (a member of `workTenants`). */
    workMark: (tenant: string, lane: Lane) => `${tenant}:${lane}`,
    /** What a work mark names: a tenant's lane, or (a bare tenant id) both lanes. */
    parseWorkMark: (mark: string): { tenant: string; lane: Lane | undefined } => {
      const [tenant = '', lane] = mark.split(':');
      return { tenant, lane: lane === 'priority' || lane === 'normal' ? lane : undefined };
    },
    /** The work sequence: one number per append of any tenant (see work.ts). */
    workSequence: `${prefix}:work:seq`,
    /** A one-entry stream appended with every work mark, so an idle reader can block on it (see work.ts). */
    workBell: `${prefix}:work:bell`,
    events: (tenant: string) => tenantKey(tenant, 'events'),
    /** The tenant's priority lane: high and urgent tickets and their follow-on events (see lanes.ts). */
    priorityEvents: (tenant: string) => tenantKey(tenant, 'events:priority'),
    /** The last id given out to either lane (lane-id.lua): both lanes draw from one sequence. */
    laneSequence: (tenant: string) => tenantKey(tenant, 'lane-id'),
    /** Both of a tenant's event streams: the normal lane first, then the priority lane. */
    lanes: (tenant: string) => [laneKey(tenant, 'normal'), laneKey(tenant, 'priority')] as const,
    /** A tenant's stream of one lane. */
    lane: laneKey,
    /** The tenant's other lane: every append names it too, for the shared id sequence. */
    otherLane: (tenant: string, lane: Lane) => laneKey(tenant, lane === 'priority' ? 'normal' : 'priority'),
    /** The tenant of a tenant key: its hash tag. */
    tenantOf: tenantOfKey,
    /** The lane of a tenant's event stream key. */
    laneOf: (key: string): Lane => (key === laneKey(tenantOfKey(key), 'priority') ? 'priority' : 'normal'),
    dlq: (tenant: string) => tenantKey(tenant, 'dlq'),
    /** A webhook delivery already accepted: the tenant's, whatever ticket it names. */
    deliverySeen: (tenant: string, deliveryId: string): Marker => {
      const key = tenantKey(tenant, `seen:${deliveryId}`);
      return { key, field: '', legacyKey: key };
    },
    /** A signed request (hash of timestamp and body) or a ticket event (hash of ticket, type, modification time) already accepted. */
    dedupe: (tenant: string, hash: string) => tenantKey(tenant, `dedupe:${hash}`),
    /** Every key of a tenant matches this pattern (SCAN MATCH), for purging. */
    tenantKeyPattern: (tenant: string) => tenantKey(tenant, '*'),
    /** A follow-on event of a ticket already appended. */
    eventEmitted: (tenant: string, ticket: string, eventId: string): Marker => ({
      key: tenantKey(tenant, `marks:${ticket}`),
      field: `e:${eventId}`,
      legacyKey: tenantKey(tenant, `emitted:${eventId}`),
    }),
    retryState: (tenant: string, group: string) => tenantKey(tenant, `retry:${group}`),
    /** A tenant's LLM budget settings (hash). */
    budget: (tenant: string) => tenantKey(tenant, 'budget'),
    /** A tenant's LLM usage in one budget period (`d:2026-12-03` or `m:2026-12`; hash: tokens, nanoUsd). */
    usage: (tenant: string, period: string) => tenantKey(tenant, `usage:${period}`),
    /** Tickets waiting for the tenant's budget: event id → when it first waited (hash). */
    budgetWaiting: (tenant: string) => tenantKey(tenant, 'budget-waiting'),
    /** A ServiceDesk Plus Cloud access token the tenant's workers share (sealed JSON, expires with the token). */
    zohoAccessToken: (tenant: string) => tenantKey(tenant, 'zoho-access-token'),
    /** The shared gate of one LLM provider and model (hash) and its calls in flight (sorted set); one slot per provider. */
    llmGate: (provider: string) => `${prefix}:{llm:${provider}}:gate`,
    llmLeases: (provider: string) => `${prefix}:{llm:${provider}}:leases`,
  };
}

function tenantOfKey(key: string): string {
  const open = key.indexOf('{');
  return key.slice(open + 1, key.indexOf('}', open));
}

export const tenantIdPattern = /^[a-z0-9][a-z0-9-]{0,62}$/;

/** The Redis Cluster hash slot of a key (CRC16-XMODEM of its hash tag, or of the whole key, mod 16384). */
export function hashSlot(key: string): number {
  const open = key.indexOf('{');
  const close = open >= 0 ? key.indexOf('}', open + 1) : -1;
  const tagged = close > open + 1 ? key.slice(open + 1, close) : key;
  let crc = 0;
  for (const byte of Buffer.from(tagged)) {
    crc ^= byte << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc % 16384;
}
