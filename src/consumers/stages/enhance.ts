import { StreamdeskError } from '../../errors.js';
import { ticketSchema, type TicketEventOf } from '../../events.js';
import type { Db } from '../../projections/db.js';
import type { Metrics } from '../../telemetry/metrics.js';
import type { Enhancer, EnhancementRequest } from '../enhancers/enhancer.js';
import { stageSql } from '../sql.js';
import type { Stage } from '../stage.js';

export type EnhanceStageDeps = { db: Db; enhancer: Enhancer; metrics: Pick<Metrics, 'llmTokens'> };

const archivedTicket = ticketSchema.pick({ subject: true, description: true, priority: true, category: true });

/**
 * The ticket the enhancer needs. Events from the context stage carry it; one written before they
 * did is completed from the archived ticket.received that started its chain.
 */
async function ticketOf(db: Db, event: TicketEventOf<'ticket.context_gathered'>): Promise<EnhancementRequest['ticket']> {
  if (event.data.ticket) return event.data.ticket;
  const { rows } = await db.query<{ ticket: unknown }>(stageSql.receivedTicket, [event.tenant, event.correlation]);
  if (rows.length === 0) {
    // The archiver may not have stored it yet: a retry can succeed.
    throw new StreamdeskError('HANDLER_FAILED', `The ticket.received event ${event.correlation} of this chain is not archived (yet); cannot enhance without the ticket`);
  }
  const ticket = archivedTicket.safeParse(rows[0]!.ticket);
  if (!ticket.success) throw new StreamdeskError('INVALID_EVENT', `The archived ticket.received event ${event.correlation} has no readable ticket`);
  return ticket.data;
}

/** ticket.context_gathered → ticket.enhanced, through the LLM or the offline enhancer. */
export function createEnhanceStage(deps: EnhanceStageDeps): Stage<'ticket.context_gathered'> {
  return {
    name: 'enhance',
    handles: ['ticket.context_gathered'],
    // LLM calls wait on the network for seconds; many can be in flight per process.
    concurrency: 32,
    async handle(event, ctx) {
      const ticket = await ticketOf(deps.db, event);
      const started = performance.now();
      const result = await deps.enhancer.enhance({ ticket, context: event.data.context }, ctx.signal);
      const latencyMs = Math.round(performance.now() - started);
      deps.metrics.llmTokens(result.model, result.tokens.prompt, result.tokens.completion);
      ctx.log.debug({ model: result.model, tokens: result.tokens, latencyMs }, 'ticket enhanced');
      return [{ type: 'ticket.enhanced', data: { enhancement: result.enhancement, model: result.model, tokens: { ...result.tokens }, latencyMs } }];
    },
  };
}
