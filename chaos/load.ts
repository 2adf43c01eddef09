import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { signedHeaders, ticketBody } from '../test/support/webhook.js';

// Every priority, so both lanes of each tenant (normal, and priority for high and urgent) carry load.
const priorities = ['low', 'medium', 'high', 'urgent'] as const;
export type LoadTenant = { id: string; secret: string };

export type LoadOptions = {
  /** Read on every attempt: a restarted ingest keeps its port, but the URL is looked up anyway. */
  baseUrl: () => string;
  tenants: readonly LoadTenant[];
  rate: number;
  durationSeconds: number;
  idPrefix: string;
  requestTimeoutMs: number;
  /** A webhook is given up this long after its first attempt (then it counts as not accepted). */
  giveUpAfterMs: number;
  signal: AbortSignal;
};

export type Accepted = { tenant: string; ticket: string; eventId: string };

export type LoadResult = {
  webhooks: number;
  /** One per webhook answered 202, with the event id of its first acceptance. */
  accepted: Accepted[];
  /** 202s that said `duplicate: true`: a retry of a delivery that had been stored already. */
  duplicates: number;
  attempts: number;
  retried: number;
  gaveUp: number;
  /** Answers other than 202, and failures without an answer, by kind. */
  failures: Record<string, number>;
  startedAt: number;
  lastAnsweredAt: number;
};

const acceptedBody = z.object({ eventId: z.string(), duplicate: z.boolean() });
const permanent = new Set([400, 401, 403, 404, 409, 413, 415, 422]);

/**
 * A helpdesk at a steady rate: webhook i is due at start + i / rate whatever happened to the
 * others, each a new ticket with its own delivery id. After an error, a 429/503 or a timeout it is
 * sent again, same body and same delivery id, freshly signed, with backoff (or the server's
 * Retry-After), until accepted or given up.
 */
export async function runSteadyLoad(options: LoadOptions): Promise<LoadResult> {
  const total = Math.round(options.rate * options.durationSeconds);
  const result: LoadResult = {
    webhooks: total,
    accepted: [],
    duplicates: 0,
    attempts: 0,
    retried: 0,
    gaveUp: 0,
    failures: {},
    startedAt: Date.now(),
    lastAnsweredAt: Date.now(),
  };
  const fail = (kind: string) => (result.failures[kind] = (result.failures[kind] ?? 0) + 1);

  const deliver = async (index: number) => {
    const tenant = options.tenants[index % options.tenants.length]!;
    const ticket = `${options.idPrefix}-${index}`;
    const body = ticketBody({
      id: ticket,
      subject: `VPN to 10.1.${index % 250}.7 fails (${ticket})`,
      description: `Since 9:00 the VPN drops every few minutes; printer and mail work. Ticket ${ticket}.`,
      priority: priorities[index % priorities.length],
      requester: { name: 'Chaos User', email: 'chaos@example.com' },
    });
    const firstAt = Date.now();
    for (let attempt = 0; ; attempt += 1) {
      if (attempt > 0) result.retried += 1;
      result.attempts += 1;
      let waitMs = Math.min(2_000, 100 * 2 ** attempt) * (0.5 + Math.random() / 2);
      try {
        const response = await fetch(`${options.baseUrl()}/v1/webhooks/${tenant.id}/tickets`, {
          method: 'POST',
          body,
          headers: signedHeaders(tenant.secret, body, { deliveryId: `chaos-${ticket}` }),
          signal: AbortSignal.timeout(options.requestTimeoutMs),
        });
        const text = await response.text();
        result.lastAnsweredAt = Date.now();
        if (response.status === 202) {
          const answer = acceptedBody.parse(JSON.parse(text));
          if (answer.duplicate) result.duplicates += 1;
          result.accepted.push({ tenant: tenant.id, ticket, eventId: answer.eventId });
          return;
        }
        fail(String(response.status));
        if (permanent.has(response.status)) return;
        const retryAfter = Number(response.headers.get('retry-after'));
        if (retryAfter > 0) waitMs = Math.min(5_000, retryAfter * 1_000);
      } catch (error) {
        fail(
          error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')
            ? 'timeout'
            : 'connection',
        );
      }
      if (Date.now() - firstAt + waitMs > options.giveUpAfterMs || options.signal.aborted) {
        result.gaveUp += 1;
        return;
      }
      await sleep(waitMs);
    }
  };

  const deliveries: Promise<void>[] = [];
  const start = performance.now();
  for (let index = 0; index < total && !options.signal.aborted; index += 1) {
    const due = start + (index * 1_000) / options.rate;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    deliveries.push(deliver(index));
  }
  await Promise.all(deliveries);
  return result;
}
