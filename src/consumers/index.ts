import { Budgets } from '../llm/budgets.js';
import { ProviderGate } from '../llm/gate.js';
import type { Config } from '../config/config.js';
import type { Db } from '../projections/db.js';
import type { RedisKeys } from '../streams/keys.js';
import type { RedisClient } from '../streams/redis.js';
import type { Metrics } from '../telemetry/metrics.js';
import type { TenantRegistry } from '../tenants/registry.js';
import { BoundedCache } from '../tenants/cache.js';
import { SecretBox } from '../tenants/secret-box.js';
import { offlineEnhancer } from './enhancers/offline.js';
import { TenantEnhancers } from './enhancers/tenant-enhancers.js';
import type { AnyStage } from './stage.js';
import { createContextStage } from './stages/context.js';
import { createEnhanceStage } from './stages/enhance.js';
import { createWritebackStage } from './stages/writeback.js';
import { redisTokenStore } from './writeback/zoho-token-store.js';

/** What the stages are built from: the process's connections and settings (runtime's `Services` has them). */
export type StageServices = Readonly<{
  config: Pick<
    Config,
    | 'openai'
    | 'llmLimits'
    | 'llmPrices'
    | 'budgetRecheckMs'
    | 'writebackAllowPrivate'
    | 'secretsKey'
    | 'secretsPreviousKeys'
  >;
  redis: RedisClient;
  keys: RedisKeys;
  db: Db;
  registry: TenantRegistry;
  metrics: Metrics;
}>;

/** The pipeline's stages, in the order events flow through them. */
export function createStages(services: StageServices): AnyStage[] {
  const { openai, llmLimits, llmPrices, budgetRecheckMs } = services.config;
  const { metrics } = services;
  // One gate per provider, model and account in this process; their limits are shared through Redis.
  const gates = new BoundedCache<ProviderGate>(1_000, 3_600_000);
  const gate = (provider: string): ProviderGate => {
    const cached = gates.get(provider);
    if (cached) return cached.value;
    const created = new ProviderGate(services.redis, services.keys, provider, llmLimits, openai.timeoutMs + 5_000, {
      waited: (id, reason) => metrics.llmGateWaited(id, reason),
      released: (id, state) => metrics.llmGateState(id, state),
    });
    gates.set(provider, created);
    return created;
  };
  const enhancers = new TenantEnhancers({
    global: openai,
    tenant: (id) => services.registry.get(id),
    gate,
    offline: offlineEnhancer,
  });
  return [
    createContextStage({ db: services.db }),
    createEnhanceStage({
      db: services.db,
      enhancer: offlineEnhancer,
      enhancerFor: (tenant) => enhancers.forTenant(tenant),
      metrics,
      prices: llmPrices,
      budgets: new Budgets(services.redis, services.keys),
      offline: offlineEnhancer,
      budgetRecheckMs,
    }),
    createWritebackStage({
      db: services.db,
      registry: services.registry,
      targetPolicy: { allowPrivate: services.config.writebackAllowPrivate },
      sharedTokens: redisTokenStore(
        services.redis,
        services.keys,
        new SecretBox(services.config.secretsKey, services.config.secretsPreviousKeys),
      ),
    }),
  ];
}
