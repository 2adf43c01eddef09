import { ROOT_CONTEXT, context } from '@opentelemetry/api';
import type { Logger } from 'pino';
import { toStreamdeskError } from '../errors.js';
import type { EventType, TicketEventOf } from '../events.js';
import type { FollowOn, GroupProcessor, Outcome, ProcessContext, RetryPolicy } from '../streams/processor.js';
import { activeTraceparent } from '../telemetry/traceparent.js';

export type StageContext = Readonly<{
  tenant: string;
  /** 1 on the first run, then the retry number. */
  attempt: number;
  /** Aborted on shutdown: give up and let the entry be retried elsewhere. */
  signal: AbortSignal;
  log: Logger;
}>;

/**
 * A stage is data plus one handler: the event types it consumes, its retry policy, and a function
 * from an event to its follow-on events. The shared runner does everything else.
 */
export interface Stage<T extends EventType = EventType> {
  /** Also the consumer group's name. */
  readonly name: string;
  readonly handles: readonly T[];
  readonly retry?: Partial<RetryPolicy>;
  /** Events handled at once by one process. */
  readonly concurrency?: number;
  handle(event: TicketEventOf<T>, ctx: StageContext): Promise<FollowOn[]>;
  /** True while a tenant's new events should not be read (they would only wait). */
  holdsBack?(tenant: string): boolean;
}

/** A stage of any event type, as stage lists hold them. */
export type AnyStage = { [T in EventType]: Stage<T> }[EventType];

/** Runs one handler call inside its span (see consumerTracing in src/telemetry/tracing.ts). */
export type StageSpan = <R>(
  stage: AnyStage,
  event: TicketEventOf<EventType>,
  attempt: number,
  work: () => Promise<R>,
) => Promise<R>;

/** No span; outside any ambient one too, so follow-on events keep their input's traceparent. */
const untraced: StageSpan = (_stage, _event, _attempt, work) => context.with(ROOT_CONTEXT, work);

/** Adapts a stage to the runner: each event of a batch is handled concurrently and settles on its own. */
export function stageProcessor(stage: AnyStage, log: Logger, withSpan: StageSpan = untraced): GroupProcessor {
  return {
    group: stage.name,
    handles: stage.handles,
    ordered: false,
    emitsFailures: true,
    concurrency: stage.concurrency ?? 64,
    ...(stage.retry ? { retry: stage.retry } : {}),
    ...(stage.holdsBack ? { holdsBack: (tenant: string) => stage.holdsBack!(tenant) } : {}),
    process(entries, ctx): Promise<Outcome[]> {
      return Promise.all(
        entries.map(async ({ event }): Promise<Outcome> => {
          const attempt = ctx.attempts.get(event.id) ?? 1;
          // The events this call emits continue the trace from its span.
          let traceparent: string | undefined;
          try {
            const emit = await withSpan(stage, event, attempt, () => {
              traceparent = activeTraceparent();
              return (stage.handle as Stage['handle'])(
                event,
                stageContext(ctx, attempt, () =>
                  log.child({ stage: stage.name, tenant: ctx.tenant, eventId: event.id, ticket: event.ticket }),
                ),
              );
            });
            return { ok: true, emit, traceparent };
          } catch (error) {
            return { ok: false, error: toStreamdeskError(error), traceparent };
          }
        }),
      );
    },
  };
}

/** A handler's context; its logger is made on first use (a pino child per event costs more than a no-op handler). */
function stageContext(ctx: ProcessContext, attempt: number, makeLog: () => Logger): StageContext {
  let log: Logger | undefined;
  return {
    tenant: ctx.tenant,
    attempt,
    signal: ctx.signal,
    get log() {
      return (log ??= makeLog());
    },
  };
}

/**
 * Gathers the calls made while a batch's handlers run (up to the next turn of the event loop) into
 * one call of `run` per key (a tenant, say) and at most `maxGroup` inputs, so that a batch of
 * tickets costs one statement and one commit instead of one per ticket; groups run at once (on
 * connections, and Postgres cores, of their own). Each caller gets its own result, or its own
 * error: when a gathered call fails, each input is run again alone, so one bad input does not fail
 * the others.
 */
export function coalesced<I, O>(
  run: (key: string, inputs: I[]) => Promise<O[]>,
  maxGroup = Number.POSITIVE_INFINITY,
): (key: string, input: I) => Promise<O> {
  type Waiting = { input: I; resolve(output: O): void; reject(error: unknown): void };
  let pending = new Map<string, Waiting[]>();
  const flushGroup = async (key: string, group: Waiting[]) => {
    try {
      const outputs = await run(
        key,
        group.map((waiting) => waiting.input),
      );
      group.forEach((waiting, index) => waiting.resolve(outputs[index]!));
    } catch (error) {
      if (group.length === 1) return group[0]!.reject(error);
      await Promise.all(group.map((waiting) => flushGroup(key, [waiting])));
    }
  };
  const flush = () => {
    const groups = pending;
    pending = new Map();
    for (const [key, waiting] of groups)
      for (let start = 0; start < waiting.length; start += maxGroup)
        void flushGroup(key, waiting.slice(start, start + maxGroup));
  };
  return (key, input) =>
    new Promise<O>((resolve, reject) => {
      if (pending.size === 0) setImmediate(flush);
      const group = pending.get(key);
      if (group) group.push({ input, resolve, reject });
      else pending.set(key, [{ input, resolve, reject }]);
    });
}
