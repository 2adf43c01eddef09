import { Budgets } from '../llm/budgets.js';
import { ProviderGate, providerId } from '../llm/gate.js';
import type { Services } from '../runtime/services.js';
import { SecretBox } from '../tenants/secret-box.js';
import { offlineEnhancer } from './enhancers/offline.js';
import { createOpenAiEnhancer } from './enhancers/openai.js';
import type { AnyStage } from './stage.js';
import { createContextStage } from './stages/context.js';
import { createEnhanceStage, type EnhanceStageDeps } from './stages/enhance.js';
import { createWritebackStage } from './stages/writeback.js';
import { redisTokenStore } from './writeback/zoho-token-store.js';

/** The pipeline's stages, in the order events flow through them. */
export function createStages(services: Services): AnyStage[] {
  const { openai, llmLimits, llmPrices, budgetRecheckMs } = services.config;
  const { metrics } = services;
  let enhance: EnhanceStageDeps = { db: services.db, enhancer: offlineEnhancer, metrics, prices: llmPrices };
  if (openai.apiKey) {
    const gate = new ProviderGate(services.redis, services.keys, providerId(openai.baseUrl, openai.model), llmLimits, openai.timeoutMs + 5_000, {
      waited: (provider, reason) => metrics.llmGateWaited(provider, reason),
      released: (provider, state) => metrics.llmGateState(provider, state),
    });
    const enhancer = createOpenAiEnhancer({ ...openai, apiKey: openai.apiKey, gate });
    enhance = { ...enhance, enhancer, budgets: new Budgets(services.redis, services.keys), offline: offlineEnhancer, budgetRecheckMs };
  }
  return [
    createContextStage({ db: services.db }),
    createEnhanceStage(enhance),
    createWritebackStage({
      db: services.db,
      registry: services.registry,
      targetPolicy: { allowPrivate: services.config.writebackAllowPrivate },
      sharedTokens: redisTokenStore(services.redis, services.keys, new SecretBox(services.config.secretsKey, services.config.secretsPreviousKeys)),
    }),
  ];
}
