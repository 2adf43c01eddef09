import type { Services } from '../runtime/services.js';
import type { Stage } from './stage.js';

/** The pipeline's stages, in the order events flow through them. */
export function createStages(_services: Services): Stage[] {
  return [];
}
