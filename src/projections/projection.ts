import { isOutage, toStreamdeskError } from '../errors.js';
import type { GroupProcessor, Outcome, ProcessContext, StreamEvent } from '../streams/processor.js';
import type { ConsumerTracing } from '../telemetry/tracing.js';
import { inTransaction, type Db, type DbClient } from './db.js';
import { sql } from './sql.js';

/**
 * A projection folds a tenant's events into Postgres, giving the same rows whatever order they come in
 * and however often each is applied. `applyBatch` runs inside the transaction that also moves the
 * checkpoint, so an event's effect and the checkpoint commit together.
 */
export interface Projection {
  /** Checkpoint name. */
  readonly name: string;
  /** Consumer group that feeds it live. */
  readonly group: string;
  /** Tables it writes, keyed by tenant_id; a projection that lists them can be rebuilt from history. */
  readonly tables?: readonly string[];
  applyBatch(client: DbClient, tenant: string, entries: readonly StreamEvent[]): Promise<AppliedBatch | void>;
}

/** What applying a batch reports besides its writes; acted on only once its transaction committed. */
export type AppliedBatch = {
  /** Tickets this batch wrote back, with their received → written back time (the latency metric). */
  completedTickets?: readonly { tenant: string; latencyMs: number }[];
};

export async function applyWithCheckpoint(
  client: DbClient,
  projection: Projection,
  tenant: string,
  entries: readonly StreamEvent[],
): Promise<AppliedBatch | void> {
  if (entries.length === 0) return;
  const applied = await projection.applyBatch(client, tenant, entries);
  await client.query(sql.saveCheckpoint, [projection.name, tenant, entries.at(-1)!.streamId]);
  return applied;
}

export type ProjectionProcessorOptions = {
  concurrency?: number;
  /** One span per event applied, child of the span that produced it (see consumerTracing). */
  tracing?: ConsumerTracing;
  /** Called after each committed transaction with what it applied (metrics). */
  onCommitted?: (applied: AppliedBatch) => void;
};

/**
 * Adapts a projection to the stream runner: one transaction per batch. A failing batch is halved until
 * the entries at fault are found; the others commit and only those are retried (or dead-lettered).
 * Projections converge in any order, so entries of a ticket committing ahead of a failed earlier one
 * change nothing once it is applied; until then it stays pending, counted and logged by the runner.
 * An outage fails the whole batch at once: no point asking a database that is down once per entry.
 */
export function projectionProcessor(
  projection: Projection,
  db: Db,
  options: ProjectionProcessorOptions = {},
): GroupProcessor {
  async function applyEntries(entries: readonly StreamEvent[], ctx: ProcessContext): Promise<Outcome[]> {
    try {
      const applied = await inTransaction(db, (client) => applyWithCheckpoint(client, projection, ctx.tenant, entries));
      if (applied) options.onCommitted?.(applied);
      return entries.map(() => ({ ok: true, emit: [] }));
    } catch (error) {
      const failure = toStreamdeskError(error);
      if (entries.length === 1 || isOutage(failure)) return entries.map(() => ({ ok: false, error: failure }));
    }
    const half = Math.ceil(entries.length / 2);
    return [...(await applyEntries(entries.slice(0, half), ctx)), ...(await applyEntries(entries.slice(half), ctx))];
  }

  return {
    group: projection.group,
    handles: 'all',
    ordered: true,
    emitsFailures: false,
    concurrency: options.concurrency ?? 1_000,
    async process(entries, ctx): Promise<Outcome[]> {
      const spans = options.tracing?.batch(projection.group, entries, ctx.attempts);
      if (!spans) return applyEntries(entries, ctx);
      const outcomes = await spans.run(() => applyEntries(entries, ctx));
      spans.end(outcomes);
      return outcomes;
    },
  };
}
