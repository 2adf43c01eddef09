import { z } from 'zod';
import type { Enhancement } from '../../events.js';
import { signWebhook } from '../../webhook-signature.js';
import type { WritebackTarget } from '../../tenants/registry.js';
import { sendToPeer } from './http.js';
import type { TargetPolicy } from './target-policy.js';
import type { WrittenNote } from './servicedesk-plus.js';

type WebhookTarget = Extract<WritebackTarget, { type: 'webhook' }>;

export type EnhancementDelivery = Readonly<{
  tenant: string;
  ticketId: string;
  /** The ticket.enhanced event id; also sent as X-Streamdesk-Delivery so the receiver can drop repeats. */
  enhancementId: string;
  enhancement: Enhancement;
  model: string;
  note: string;
}>;

/** A receiver may answer with the id of what it created; anything else is fine too. */
const receiverAnswer = z.object({ noteId: z.union([z.string().min(1).max(256), z.number()]).transform(String) });

/** POSTs the enhancement as JSON, signed like the webhooks streamdesk receives: v1=HMAC-SHA256(secret, ts + "." + body). */
export async function postEnhancementWebhook(
  target: WebhookTarget,
  delivery: EnhancementDelivery,
  options: { timeoutMs: number; signal: AbortSignal; targetPolicy: TargetPolicy },
): Promise<WrittenNote> {
  const body = JSON.stringify({ event: 'ticket.enhanced', ...delivery });
  const timestamp = String(Math.floor(Date.now() / 1_000));
  const response = await sendToPeer({
    peer: 'Webhook receiver',
    url: new URL(target.url),
    init: {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-streamdesk-timestamp': timestamp,
        'x-streamdesk-signature': signWebhook(target.secret, timestamp, body),
        'x-streamdesk-delivery': delivery.enhancementId,
      },
      body,
    },
    timeoutMs: options.timeoutMs,
    signal: options.signal,
    targetPolicy: options.targetPolicy,
    secrets: [target.secret],
  });
  const answer = receiverAnswer.safeParse(await response.json().catch(() => undefined));
  return { noteId: answer.success ? answer.data.noteId : null, status: response.status };
}
