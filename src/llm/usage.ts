import { z } from 'zod';
import type { Db } from '../projections/db.js';
import { sqlFiles } from '../sql-files.js';

const sql = sqlFiles(new URL('./sql/', import.meta.url), { usageReport: 'usage-report' });

/** One tenant's use of one model: what `streamdesk usage` and the admin API show. */
export type ModelUsage = {
  tenant: string;
  model: string;
  enhancements: number;
  tickets: number;
  tokens: { prompt: number; completion: number; total: number };
  /** Sum of the recorded costs; null when no event had a price. */
  costUsd: number | null;
  /** Mean cost of the enhancements that carry a cost. */
  averageCostUsd: number | null;
  /** Enhancements without a cost (written before costs were recorded, or a model without a price). */
  unpriced: number;
  offlineOverBudget: number;
  waitedForBudget: number;
};

type UsageRow = {
  tenant: string;
  model: string;
  enhancements: number;
  tickets: number;
  prompt_tokens: string;
  completion_tokens: string;
  cost_usd: string | null;
  priced: number;
  offline_over_budget: number;
  waited_for_budget: number;
};

/** LLM usage per tenant and model since a time, from the events archive. */
export async function usageReport(
  db: Db,
  options: { tenant?: string | undefined; since: Date },
): Promise<ModelUsage[]> {
  const { rows } = await db.query<UsageRow>(sql.usageReport, [options.tenant ?? null, options.since]);
  return rows.map((row) => {
    const prompt = Number(row.prompt_tokens);
    const completion = Number(row.completion_tokens);
    const cost = row.cost_usd === null ? null : Number(row.cost_usd);
    return {
      tenant: row.tenant,
      model: row.model,
      enhancements: row.enhancements,
      tickets: row.tickets,
      tokens: { prompt, completion, total: prompt + completion },
      costUsd: cost,
      averageCostUsd: cost === null || row.priced === 0 ? null : cost / row.priced,
      unpriced: row.enhancements - row.priced,
      offlineOverBudget: row.offline_over_budget,
      waitedForBudget: row.waited_for_budget,
    };
  });
}

const relative = /^(\d+)([mhd])$/;
const unitMs = { m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** The start of the current UTC month: the default of `--since`. */
export function startOfMonth(now: Date): Date {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
}

/**
 * `--since` / `?since=`: a duration back from now (`90m`, `24h`, `7d`) or an ISO date or date-time
 * (`2026-12-01`, `2026-12-01T08:00:00Z`). Undefined: the start of the current UTC month.
 */
export const sinceSchema = z
  .string()
  .trim()
  .optional()
  .transform((value, ctx) => {
    const now = new Date();
    if (value === undefined || value === '') return startOfMonth(now);
    const match = relative.exec(value);
    if (match) return new Date(now.getTime() - Number(match[1]) * unitMs[match[2] as keyof typeof unitMs]);
    if (/^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(value) && !Number.isNaN(Date.parse(value)))
      return new Date(value);
    ctx.addIssue({
      code: 'custom',
      message: 'expected a duration such as 7d, 24h or 90m, or an ISO date such as 2026-12-01',
    });
    return z.NEVER;
  });

/** Formats a cost in USD for people: cents for large sums, more digits for small ones. */
export function formatUsd(value: number | null): string {
  if (value === null) return '-';
  return value >= 1 ? `$${value.toFixed(2)}` : `$${value.toFixed(6)}`;
}
