import { createHash } from 'node:crypto';
import type { Config } from '../../config/config.js';
import { accountTag, providerId, type ProviderGate } from '../../llm/gate.js';
import { BoundedCache } from '../../tenants/cache.js';
import type { TenantModelSettings } from '../../tenants/model-settings.js';
import type { Tenant } from '../../tenants/registry.js';
import type { Enhancer } from './enhancer.js';
import { createOpenAiEnhancer } from './openai.js';

/** The settings a tenant's tickets are enhanced with: its own where it has them, the global ones for the rest. */
export type EffectiveModelSettings = Readonly<{
  apiKey: string;
  baseUrl: string | undefined;
  model: string;
  language: string | undefined;
  provider: string;
}>;

export function effectiveModelSettings(
  global: Config['openai'],
  own: TenantModelSettings | undefined,
): EffectiveModelSettings | undefined {
  const apiKey = own?.apiKey ?? global.apiKey;
  if (!apiKey) return undefined;
  // A tenant's base URL always comes with its own key (the schema refuses one without).
  const baseUrl = own?.baseUrl ?? global.baseUrl;
  const model = own?.model ?? global.model;
  return {
    apiKey,
    baseUrl,
    model,
    language: own?.language,
    provider: providerId(baseUrl, model, own?.apiKey ? accountTag(own.apiKey) : undefined),
  };
}

export type TenantEnhancerDeps = {
  global: Config['openai'];
  /** The registry's cached lookup: a change of settings reaches this process within its cache age. */
  tenant: (id: string) => Promise<Tenant | undefined>;
  /** The shared gate of a provider, model and account. */
  gate: (provider: string) => ProviderGate;
  /** Used when neither the tenant nor the global settings have an API key. */
  offline: Enhancer;
};

/**
 * Picks each tenant's enhancer. One enhancer (one SDK client) per distinct settings, reused by
 * every ticket and tenant with those settings; settings that changed get a new one.
 */
export class TenantEnhancers {
  private readonly enhancers = new BoundedCache<Enhancer>(1_000, 3_600_000);

  constructor(private readonly deps: TenantEnhancerDeps) {}

  async forTenant(id: string): Promise<Enhancer> {
    const settings = effectiveModelSettings(this.deps.global, (await this.deps.tenant(id))?.model);
    if (!settings) return this.deps.offline;
    // A digest, so the cache's keys do not hold API keys.
    const cacheKey = createHash('sha256').update(JSON.stringify(settings)).digest('hex');
    const cached = this.enhancers.get(cacheKey);
    if (cached) return cached.value;
    const enhancer = createOpenAiEnhancer({
      ...this.deps.global,
      ...settings,
      gate: this.deps.gate(settings.provider),
    });
    this.enhancers.set(cacheKey, enhancer);
    return enhancer;
  }
}
