import { z } from 'zod';
import { enhancementBudgetSchema } from '../events.js';
import type { RedisKeys } from '../streams/keys.js';
import type { RedisClient } from '../streams/redis.js';

/** What happens to a tenant's tickets while it is over budget. */
export const overBudgetActions = ['offline', 'wait'] as const;
export type OverBudgetAction = (typeof overBudgetActions)[number];

export const budgetLimits = enhancementBudgetSchema.shape.exceeded.options;
export type BudgetLimit = (typeof budgetLimits)[number];

/** A tenant's LLM budget: any of the four limits (none set: no budget), and what to do when one is reached. */
export const budgetSettingsSchema = z
  .object({
    dailyTokens: z.coerce.number().int().positive().optional(),
    monthlyTokens: z.coerce.number().int().positive().optional(),
    dailyUsd: z.coerce.number().positive().optional(),
    monthlyUsd: z.coerce.number().positive().optional(),
    overBudget: z.enum(overBudgetActions).default('offline'),
  })
  .strict();
export type BudgetSettings = z.infer<typeof budgetSettingsSchema>;

export type UsageTotals = { tokens: number; usd: number };
export type TenantUsage = { day: UsageTotals; month: UsageTotals };

const waitingSchema = z.object({ since: z.string(), exceeded: z.enum(budgetLimits) });
const nanos = 1e9;
const dayTtlSeconds = 3 * 86_400;
const monthTtlSeconds = 62 * 86_400;

/** The budget periods `now` falls in: the UTC day and the UTC month. */
export function budgetPeriods(now: Date): { day: string; month: string } {
  const iso = now.toISOString();
  return { day: `d:${iso.slice(0, 10)}`, month: `m:${iso.slice(0, 7)}` };
}

/** Milliseconds until the period of a limit ends (the next UTC midnight, or the next month's first day). */
export function untilPeriodEnd(limit: BudgetLimit, now: Date): number {
  const end = limit.startsWith('daily')
    ? Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1)
    : Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1);
  return end - now.getTime();
}

const usageTotals = (raw: Record<string, string>): UsageTotals => ({
  tokens: Number(raw.tokens ?? 0),
  usd: Number(raw.nanoUsd ?? 0) / nanos,
});

/** The first limit the usage has reached, if any. */
export function exceededLimit(settings: BudgetSettings, usage: TenantUsage): BudgetLimit | undefined {
  const used: Record<BudgetLimit, number> = {
    dailyTokens: usage.day.tokens,
    monthlyTokens: usage.month.tokens,
    dailyUsd: usage.day.usd,
    monthlyUsd: usage.month.usd,
  };
  return budgetLimits.find((limit) => settings[limit] !== undefined && used[limit] >= settings[limit]);
}

/** A tenant's budget settings and its usage in the current periods (counted in Redis as calls complete). */
export class Budgets {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
  ) {}

  async settings(tenant: string): Promise<BudgetSettings | undefined> {
    const raw = await this.redis.hgetall(this.keys.budget(tenant));
    if (Object.keys(raw).length === 0) return undefined;
    // Stored by this module only; a hash edited by hand that no longer parses counts as no budget.
    const parsed = budgetSettingsSchema.safeParse(raw);
    return parsed.success ? parsed.data : undefined;
  }

  async set(tenant: string, settings: BudgetSettings): Promise<void> {
    const fields = Object.entries(settings)
      .filter(([, value]) => value !== undefined)
      .flatMap(([name, value]) => [name, String(value)]);
    await this.redis
      .multi()
      .del(this.keys.budget(tenant))
      .hset(this.keys.budget(tenant), ...fields)
      .exec();
  }

  async clear(tenant: string): Promise<void> {
    await this.redis.del(this.keys.budget(tenant));
  }

  async usage(tenant: string, now = new Date()): Promise<TenantUsage> {
    const { day, month } = budgetPeriods(now);
    const [dayRaw, monthRaw] = await Promise.all([
      this.redis.hgetall(this.keys.usage(tenant, day)),
      this.redis.hgetall(this.keys.usage(tenant, month)),
    ]);
    return { day: usageTotals(dayRaw), month: usageTotals(monthRaw) };
  }

  /** Adds a completed call to the tenant's day and month. */
  async record(tenant: string, tokens: number, usd: number, now = new Date()): Promise<void> {
    const { day, month } = budgetPeriods(now);
    const pipeline = this.redis.pipeline();
    for (const [period, ttl] of [
      [day, dayTtlSeconds],
      [month, monthTtlSeconds],
    ] as const) {
      const key = this.keys.usage(tenant, period);
      pipeline
        .hincrby(key, 'tokens', tokens)
        .hincrby(key, 'nanoUsd', Math.round(usd * nanos))
        .expire(key, ttl);
    }
    await pipeline.exec();
  }

  /** Marks a ticket as waiting for the budget; the first time and reason are kept. */
  async markWaiting(tenant: string, eventId: string, limit: BudgetLimit, now = new Date()): Promise<void> {
    await this.redis.hsetnx(
      this.keys.budgetWaiting(tenant),
      eventId,
      JSON.stringify({ since: now.toISOString(), exceeded: limit }),
    );
  }

  /** Whether a ticket waited for the budget before, and since when. */
  async waited(tenant: string, eventId: string): Promise<{ since: string; exceeded: BudgetLimit } | undefined> {
    const raw = await this.redis.hget(this.keys.budgetWaiting(tenant), eventId);
    if (!raw) return undefined;
    const parsed = waitingSchema.safeParse(
      (() => {
        try {
          return JSON.parse(raw) as unknown;
        } catch {
          return undefined;
        }
      })(),
    );
    return parsed.success ? parsed.data : undefined;
  }

  async doneWaiting(tenant: string, eventId: string): Promise<void> {
    await this.redis.hdel(this.keys.budgetWaiting(tenant), eventId);
  }

  /** Tickets waiting for the tenant's budget now. */
  waitingCount(tenant: string): Promise<number> {
    return this.redis.hlen(this.keys.budgetWaiting(tenant));
  }

  /** Settings, usage, the limit reached and the waiting tickets: what `status` shows. */
  async status(tenant: string, now = new Date()): Promise<BudgetStatus> {
    const [settings, usage, waiting] = await Promise.all([
      this.settings(tenant),
      this.usage(tenant, now),
      this.waitingCount(tenant),
    ]);
    return {
      settings: settings ?? null,
      usage,
      exceeded: settings ? (exceededLimit(settings, usage) ?? null) : null,
      waiting,
    };
  }
}

export type BudgetStatus = {
  settings: BudgetSettings | null;
  usage: TenantUsage;
  exceeded: BudgetLimit | null;
  waiting: number;
};
