import { z } from 'zod';

/** USD per million tokens. */
export const modelPriceSchema = z
  .object({ input: z.number().nonnegative(), output: z.number().nonnegative() })
  .strict();
export type ModelPrice = z.infer<typeof modelPriceSchema>;
export type PriceTable = Readonly<Record<string, ModelPrice>>;

/**
 * Defaults for current OpenAI models, from OpenAI's published list prices of 2025-08-07 (standard tier, no batch
 * or cache discounts); LLM_PRICES overrides or adds models.
 */
export const defaultPrices: PriceTable = {
  'gpt-5': { input: 1.25, output: 10 },
  'gpt-5-mini': { input: 0.25, output: 2 },
  'gpt-5-nano': { input: 0.05, output: 0.4 },
  'gpt-4.1': { input: 2, output: 8 },
  'gpt-4.1-mini': { input: 0.4, output: 1.6 },
  'gpt-4.1-nano': { input: 0.1, output: 0.4 },
  'gpt-4o': { input: 2.5, output: 10 },
  'gpt-4o-mini': { input: 0.15, output: 0.6 },
  o3: { input: 2, output: 8 },
  'o4-mini': { input: 1.1, output: 4.4 },
  offline: { input: 0, output: 0 },
};
