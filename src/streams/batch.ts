import { StreamdeskError, toStreamdeskError } from '../errors.js';
import type { TicketEvent } from '../events.js';
import type { Delivery } from './delivery.js';
import type { RunnerObserver } from './observer.js';
import { presetOutcome } from './outcomes.js';
import type { GroupProcessor, Outcome, RetryPolicy } from './processor.js';

export type BatchRunner = Readonly<{ processor: GroupProcessor; policy: RetryPolicy; observer: RunnerObserver }>;

/**
 * Runs a batch of one lane of a tenant through the processor. Entries it need not see (see
 * `presetOutcome`) get their outcome here; a processor that throws fails every entry it was given.
 * Returns one outcome per delivery, in order.
 */
export async function processBatch(
  runner: BatchRunner,
  tenant: string,
  deliveries: readonly Delivery[],
  signal: AbortSignal,
): Promise<Outcome[]> {
  const { processor, policy, observer } = runner;
  const preset = deliveries.map((delivery) => presetOutcome(delivery, policy, processor.handles));
  const toProcess: { delivery: Delivery; event: TicketEvent }[] = [];
  deliveries.forEach((delivery, index) => {
    if (!preset[index] && delivery.event) toProcess.push({ delivery, event: delivery.event });
  });
  let results: Outcome[] = [];
  if (toProcess.length > 0) {
    const started = performance.now();
    try {
      results = await processor.process(
        toProcess.map(({ delivery, event }) => ({ streamId: delivery.streamId, event })),
        {
          group: processor.group,
          tenant,
          signal,
          attempts: new Map(toProcess.map(({ delivery, event }) => [event.id, delivery.failures + 1])),
        },
      );
    } catch (error) {
      const failure = toStreamdeskError(error);
      results = toProcess.map(() => ({ ok: false, error: failure }));
    }
    observer.handled(processor.group, tenant, toProcess.length, performance.now() - started);
  }
  let next = 0;
  return preset.map(
    (outcome) =>
      outcome ??
      results[next++] ?? { ok: false, error: new StreamdeskError('INTERNAL', 'The processor returned no outcome') },
  );
}
