import type { ModelPrice, PriceTable } from '../config/prices.js';

/**
 * The price of a model as the server reports it: an exact entry, else the longest entry it starts
 * with followed by "-" (a dated snapshot such as gpt-4o-mini-2024-07-18 is priced as gpt-4o-mini).
 */
export function priceOf(prices: PriceTable, model: string): ModelPrice | undefined {
  if (prices[model]) return prices[model];
  let best: string | undefined;
  for (const name of Object.keys(prices)) {
    if (model.startsWith(`${name}-`) && (!best || name.length > best.length)) best = name;
  }
  return best ? prices[best] : undefined;
}

/** Cost in USD of a call, rounded to a billionth of a dollar; undefined for a model without a price. */
export function costUsd(
  prices: PriceTable,
  model: string,
  tokens: Readonly<{ prompt: number; completion: number }>,
): number | undefined {
  const price = priceOf(prices, model);
  if (!price) return undefined;
  return Math.round((tokens.prompt * price.input + tokens.completion * price.output) * 1_000) / 1e9;
}
