import { parseArgs } from 'node:util';
import { z } from 'zod';
import type { Config } from '../config/config.js';
import { StreamdeskError } from '../errors.js';
import { Budgets, budgetSettingsSchema, type BudgetStatus } from '../llm/budgets.js';
import { formatUsd, sinceSchema, usageReport, type ModelUsage } from '../llm/usage.js';
import { createLogger } from '../runtime/logger.js';
import { openServices, type Services } from '../runtime/services.js';
import type { Command } from './command.js';

class LlmUsageError extends Error {}

/** A usage mistake exits 2 with one line, like the other commands. */
async function reportingUsage(work: () => Promise<number>): Promise<number> {
  try {
    return await work();
  } catch (error) {
    if (!(error instanceof LlmUsageError)) throw error;
    process.stderr.write(`streamdesk: ${error.message}\n`);
    return 2;
  }
}

async function withServices<T>(config: Config, work: (services: Services) => Promise<T>): Promise<T> {
  const services = await openServices(config, createLogger({ logLevel: 'warn' }, 'cli'));
  try {
    return await work(services);
  } finally {
    await services.close();
  }
}

function valid<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  throw new LlmUsageError(
    `${what}: ${parsed.error.issues.map((issue) => `${issue.path.join('.') || 'value'}: ${issue.message}`).join('; ')}`,
  );
}

export function usageTable(rows: readonly ModelUsage[]): string {
  if (rows.length === 0) return 'No enhancements in this period';
  const header = [
    'tenant',
    'model',
    'tickets',
    'enhancements',
    'tokens',
    'cost',
    'avg/enhancement',
    'offline (budget)',
    'waited (budget)',
  ];
  const lines = rows.map((row) => [
    row.tenant,
    row.model,
    String(row.tickets),
    String(row.enhancements),
    String(row.tokens.total),
    formatUsd(row.costUsd),
    formatUsd(row.averageCostUsd),
    String(row.offlineOverBudget),
    String(row.waitedForBudget),
  ]);
  const widths = header.map((title, column) => Math.max(title.length, ...lines.map((line) => line[column]!.length)));
  return [header, ...lines]
    .map((line) =>
      line
        .map((cell, column) => cell.padEnd(widths[column]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** One line per budget: limits, what was used, and what happens over it. */
export function budgetLine(status: BudgetStatus): string {
  const { settings, usage } = status;
  if (!settings) return 'budget: none';
  const parts = [
    settings.dailyTokens !== undefined ? `day ${usage.day.tokens}/${settings.dailyTokens} tokens` : '',
    settings.dailyUsd !== undefined ? `day ${formatUsd(usage.day.usd)}/${formatUsd(settings.dailyUsd)}` : '',
    settings.monthlyTokens !== undefined ? `month ${usage.month.tokens}/${settings.monthlyTokens} tokens` : '',
    settings.monthlyUsd !== undefined ? `month ${formatUsd(usage.month.usd)}/${formatUsd(settings.monthlyUsd)}` : '',
  ].filter(Boolean);
  const state = status.exceeded
    ? `OVER (${status.exceeded}): ${settings.overBudget === 'offline' ? 'enhancing offline' : `${status.waiting} ticket(s) waiting`}`
    : `within; over it: ${settings.overBudget}`;
  return `budget: ${parts.join(', ') || 'no limit'}; ${state}`;
}

async function knownTenant(services: Services, tenant: string | undefined): Promise<string> {
  if (!tenant) throw new LlmUsageError('--tenant T is required');
  if (!(await services.registry.get(tenant)))
    throw new StreamdeskError('UNKNOWN_TENANT', `Tenant "${tenant}" does not exist`);
  return tenant;
}

export const usageCommand: Command = {
  name: 'usage',
  help: [
    {
      usage: ['usage [--tenant T] [--since 7d|24h|2026-12-01] [--json]'],
      summary: ['LLM tokens, cost and tickets per tenant and model (default: this month)'],
    },
  ],
  run: (config, args) =>
    reportingUsage(async () => {
      const { values } = parseArgs({
        args,
        options: { tenant: { type: 'string' }, since: { type: 'string' }, json: { type: 'boolean', default: false } },
      });
      const since = valid(sinceSchema, values.since, '--since');
      return withServices(config, async (services) => {
        if (values.tenant) await knownTenant(services, values.tenant);
        const usage = await usageReport(services.db, { tenant: values.tenant, since });
        process.stdout.write(
          `${values.json ? JSON.stringify({ since: since.toISOString(), usage }, null, 2) : `Since ${since.toISOString()}\n${usageTable(usage)}`}\n`,
        );
        return 0;
      });
    }),
};

const setOptions = {
  tenant: { type: 'string' },
  'daily-tokens': { type: 'string' },
  'monthly-tokens': { type: 'string' },
  'daily-usd': { type: 'string' },
  'monthly-usd': { type: 'string' },
  over: { type: 'string' },
  json: { type: 'boolean', default: false },
} as const;

export const budgetCommand: Command = {
  name: 'budget',
  help: [
    {
      usage: [
        'budget set --tenant T [--daily-tokens N] [--monthly-tokens N] [--daily-usd X] [--monthly-usd X] [--over offline|wait]',
        'budget show --tenant T [--json] | budget clear --tenant T',
      ],
      summary: ["a tenant's LLM budget"],
    },
  ],
  run: (config, args) =>
    reportingUsage(async () => {
      const [sub, ...rest] = args;
      const { values } = parseArgs({ args: rest, options: setOptions });
      if (!['set', 'show', 'clear'].includes(sub ?? ''))
        throw new LlmUsageError('budget needs a subcommand: set, show or clear');
      // Validated before connecting: a typo never reaches Redis.
      const settings =
        sub === 'set'
          ? valid(
              budgetSettingsSchema,
              Object.fromEntries(
                Object.entries({
                  dailyTokens: values['daily-tokens'],
                  monthlyTokens: values['monthly-tokens'],
                  dailyUsd: values['daily-usd'],
                  monthlyUsd: values['monthly-usd'],
                  overBudget: values.over,
                }).filter(([, value]) => value !== undefined),
              ),
              'budget',
            )
          : undefined;
      return withServices(config, async (services) => {
        const tenant = await knownTenant(services, values.tenant);
        const budgets = new Budgets(services.redis, services.keys);
        if (settings) await budgets.set(tenant, settings);
        if (sub === 'clear') await budgets.clear(tenant);
        const status = await budgets.status(tenant);
        process.stdout.write(
          `${values.json ? JSON.stringify({ tenant, ...status }, null, 2) : `${tenant}: ${budgetLine(status)}`}\n`,
        );
        return 0;
      });
    }),
};
