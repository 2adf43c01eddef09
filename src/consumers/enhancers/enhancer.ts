import type { Enhancement, TicketContext } from '../../events.js';

/** What an enhancer is told about one ticket: only this tenant's ticket and its context. */
export type EnhancementRequest = Readonly<{
  ticket: Readonly<{
    subject: string;
    description: string;
    priority?: string | undefined;
    category?: string | undefined;
  }>;
  context: TicketContext;
}>;

export type EnhancementResult = Readonly<{
  enhancement: Enhancement;
  /** The model that answered, as the event records it ("offline" for the rule-based enhancer). */
  model: string;
  tokens: Readonly<{ prompt: number; completion: number }>;
  /** Time spent waiting for the provider's shared gate before the call, not part of its latency. */
  queuedMs?: number;
}>;

/** Turns a ticket and its context into an enhancement; throws a StreamdeskError saying whether a retry can help. */
export interface Enhancer {
  enhance(request: EnhancementRequest, signal: AbortSignal): Promise<EnhancementResult>;
}
