import { StreamdeskError } from '../../errors.js';
import { ticketSchema, type EventData, type TicketEventOf } from '../../events.js';
import type { Db } from '../../projections/db.js';
import type { Metrics } from '../../telemetry/metrics.js';
import { exceededLimit, untilPeriodEnd, type Budgets } from '../../llm/budgets.js';
import type { PriceTable } from '../../config/prices.js';
import { costUsd } from '../../llm/prices.js';
import type { Enhancer, EnhancementRequest, EnhancementResult } from '../enhancers/enhancer.js';
import { offlineEnhancer } from '../enhancers/offline.js';
import { stageSql } from '../sql.js';
import type { Stage } from '../stage.js';
import { groupNames } from '../../streams/groups.js';

export type EnhanceStageDeps = {
  db: Db;
  /** The enhancer of every tenant, unless `enhancerFor` picks one per tenant. */
  enhancer: Enhancer;
  /** A tenant's own enhancer (its model settings, or the global ones). */
  enhancerFor?: (tenant: string) => Promise<Enhancer>;
  metrics: Pick<Metrics, 'llmTokens'> & Partial<Pick<Metrics, 'llmUsage' | 'budgetDecision'>>;
  /** USD per million tokens per model: the cost recorded on each event. */
  prices?: PriceTable;
  /** Per-tenant budgets, enforced before each LLM call; absent: no budgets (the offline enhancer costs nothing). */
  budgets?: Budgets;
  /** Used for tenants over budget whose setting is `offline`. */
  offline?: Enhancer;
  /** How long a tenant over a `wait` budget is left unread, and how soon its waiting tickets check again. */
  budgetRecheckMs?: number;
};

const archivedTicket = ticketSchema.pick({ subject: true, description: true, priority: true, category: true });

/**
 * The ticket the enhancer needs. Events from the context stage carry it; one written before they
 * did is completed from the archived ticket.received that started its chain.
 */
async function ticketOf(
  db: Db,
  event: TicketEventOf<'ticket.context_gathered'>,
): Promise<EnhancementRequest['ticket']> {
  if (event.data.ticket) return event.data.ticket;
  const { rows } = await db.query<{ ticket: unknown }>(stageSql.receivedTicket, [event.tenant, event.correlation]);
  if (rows.length === 0) {
    // The archiver may not have stored it yet: a retry can succeed.
    throw new StreamdeskError(
      'HANDLER_FAILED',
      `The ticket.received event ${event.correlation} of this chain is not archived (yet); cannot enhance without the ticket`,
    );
  }
  const ticket = archivedTicket.safeParse(rows[0]!.ticket);
  if (!ticket.success)
    throw new StreamdeskError(
      'INVALID_EVENT',
      `The archived ticket.received event ${event.correlation} has no readable ticket`,
    );
  return ticket.data;
}

type BudgetOutcome = { enhancer: Enhancer; budget?: EventData<'ticket.enhanced'>['budget']; waited?: boolean };

/**
 * Which enhancer a ticket gets under its tenant's budget; throws BUDGET_EXCEEDED when it must wait.
 * `heldBack` holds the tenants waiting for their budget, with when to read them again.
 */
async function underBudget(
  deps: EnhanceStageDeps,
  heldBack: Map<string, number>,
  event: TicketEventOf<'ticket.context_gathered'>,
  tenant: string,
): Promise<BudgetOutcome> {
  const { budgets } = deps;
  const enhancer = deps.enhancerFor ? await deps.enhancerFor(tenant) : deps.enhancer;
  // The offline enhancer costs nothing: no budget applies to it.
  if (!budgets || enhancer === (deps.offline ?? offlineEnhancer)) return { enhancer };
  const now = new Date();
  const [settings, usage, waited] = await Promise.all([
    budgets.settings(tenant),
    budgets.usage(tenant, now),
    budgets.waited(tenant, event.id),
  ]);
  const exceeded = settings && exceededLimit(settings, usage);
  if (!settings || !exceeded) {
    heldBack.delete(tenant);
    return waited
      ? {
          enhancer,
          budget: { exceeded: waited.exceeded, action: 'waited', waitingSince: waited.since },
          waited: true,
        }
      : { enhancer };
  }
  if (settings.overBudget === 'offline') {
    deps.metrics.budgetDecision?.(tenant, 'offline');
    return {
      enhancer: deps.offline ?? offlineEnhancer,
      budget: { exceeded, action: 'offline' },
      waited: waited !== undefined,
    };
  }
  await budgets.markWaiting(tenant, event.id, exceeded, now);
  deps.metrics.budgetDecision?.(tenant, 'wait');
  const retryAfterMs = Math.min(deps.budgetRecheckMs ?? 60_000, untilPeriodEnd(exceeded, now));
  heldBack.set(tenant, Date.now() + retryAfterMs);
  throw new StreamdeskError(
    'BUDGET_EXCEEDED',
    `Tenant "${tenant}" reached its ${exceeded} budget; the ticket waits`,
    undefined,
    { retryAfterMs },
  );
}

/** Counts a call's tokens and cost in the metrics and, for LLM calls, against the tenant's budget; returns the cost. */
async function recordUsage(
  deps: EnhanceStageDeps,
  tenant: string,
  result: EnhancementResult,
): Promise<number | undefined> {
  const cost = deps.prices ? costUsd(deps.prices, result.model, result.tokens) : undefined;
  deps.metrics.llmTokens(result.model, result.tokens.prompt, result.tokens.completion);
  deps.metrics.llmUsage?.(tenant, result.model, result.tokens, cost);
  if (deps.budgets && result.model !== 'offline')
    await deps.budgets.record(tenant, result.tokens.prompt + result.tokens.completion, cost ?? 0);
  return cost;
}

/** ticket.context_gathered → ticket.enhanced, through the LLM or the offline enhancer. */
export function createEnhanceStage(deps: EnhanceStageDeps): Stage<'ticket.context_gathered'> {
  // Tenants waiting for their budget: left unread until then, so their tickets do not fill the slots.
  const heldBack = new Map<string, number>();

  return {
    name: groupNames.enhance,
    handles: ['ticket.context_gathered'],
    // LLM calls wait on the network for seconds; many can be in flight per process.
    concurrency: 32,
    holdsBack: (tenant) => (heldBack.get(tenant) ?? 0) > Date.now(),
    async handle(event, ctx) {
      const ticket = await ticketOf(deps.db, event);
      const { enhancer, budget, waited } = await underBudget(deps, heldBack, event, ctx.tenant);
      const started = performance.now();
      const result: EnhancementResult = await enhancer.enhance({ ticket, context: event.data.context }, ctx.signal);
      const latencyMs = Math.round(performance.now() - started) - (result.queuedMs ?? 0);
      const cost = await recordUsage(deps, ctx.tenant, result);
      if (waited) await deps.budgets?.doneWaiting(ctx.tenant, event.id);
      ctx.log.debug({ model: result.model, tokens: result.tokens, latencyMs, costUsd: cost }, 'ticket enhanced');
      return [
        {
          type: 'ticket.enhanced',
          data: {
            enhancement: result.enhancement,
            model: result.model,
            tokens: { ...result.tokens },
            latencyMs,
            ...(cost !== undefined ? { costUsd: cost } : {}),
            ...(budget ? { budget } : {}),
          },
        },
      ];
    },
  };
}
