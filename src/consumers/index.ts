import type { Services } from '../runtime/services.js';
import { offlineEnhancer } from './enhancers/offline.js';
import { createOpenAiEnhancer } from './enhancers/openai.js';
import type { AnyStage } from './stage.js';
import { createContextStage } from './stages/context.js';
import { createEnhanceStage } from './stages/enhance.js';
import { createWritebackStage } from './stages/writeback.js';

/** The pipeline's stages, in the order events flow through them. */
export function createStages(services: Services): AnyStage[] {
  const { openai } = services.config;
  const enhancer = openai.apiKey ? createOpenAiEnhancer({ ...openai, apiKey: openai.apiKey }) : offlineEnhancer;
  return [
    createContextStage({ db: services.db }),
    createEnhanceStage({ db: services.db, enhancer, metrics: services.metrics }),
    createWritebackStage({ db: services.db, registry: services.registry, targetPolicy: { allowPrivate: services.config.writebackAllowPrivate } }),
  ];
}
