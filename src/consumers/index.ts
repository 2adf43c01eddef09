import type { Services } from '../runtime/services.js';
import type { AnyStage } from './stage.js';

/** The pipeline's stages, in the order events flow through them. */
export function createStages(_services: Services): AnyStage[] {
  return [];
}
