import { createHash } from 'node:crypto';
import { poolWithSearchPath, type Db, type DbClient } from '../projections/db.js';
import { projectionProcessor, type Projection } from '../projections/projection.js';
import type { StreamEvent } from '../streams/processor.js';
import { countHistory, readHistory, type HistorySource } from './history.js';

/**
 * Where a rebuild stands, all its tenants together: several tenants are built at once, so a
 * figure of one tenant alone would jump between them.
 */
export type RebuildProgress = {
  phase: 'build' | 'catch-up' | 'swap' | 'done';
  /** Events applied so far, every tenant. */
  applied: number;
  /** About how many events the rebuild applies: every tenant's history, counted before the build; never below `applied`. */
  total: number;
  /** Tenants whose history is being applied now. */
  inFlight: readonly string[];
  /** Tenants whose phase is over, of `tenantCount`. */
  tenantsDone: number;
  tenantCount: number;
};

export type RebuildOptions = HistorySource & {
  projection: Projection;
  /** The schema live processing writes to. */
  schema: string;
  tenants: readonly string[];
  /** Drop an interrupted rebuild's progress and start over. */
  restart?: boolean;
  signal?: AbortSignal;
  onProgress?: (progress: RebuildProgress) => void;
  /** Events per transaction (default 20,000): a batch is folded per ticket, so a larger one writes fewer row versions. */
  batchSize?: number;
  /** Events per read of history (default 5,000, at most `batchSize`); the reads of the next batch overlap the current one's write. */
  pageSize?: number;
  /** Tenants built at once (each on a connection of its own); their rows never overlap. */
  parallelTenants?: number;
};

export type RebuildResult = { shadowSchema: string; events: number; resumed: boolean; swapped: boolean };

export class RebuildInterrupted extends Error {
  constructor(readonly shadowSchema: string) {
    super(`Rebuild interrupted; its progress is kept in schema ${shadowSchema}: run the same command again to resume`);
  }
}

function shadowSchemaName(schema: string, projection: string, tenants: readonly string[]): string {
  const hash = createHash('sha256')
    .update([...tenants].sort().join(','))
    .digest('hex')
    .slice(0, 8);
  return `${schema}_rebuild_${projection}_${hash}`.slice(0, 63);
}

async function withSearchPath<T>(
  db: Db,
  path: string,
  work: (client: DbClient) => Promise<T>,
  transactional = true,
): Promise<T> {
  const client = await db.connect();
  try {
    if (transactional) await client.query('BEGIN');
    await client.query(`SET ${transactional ? 'LOCAL ' : ''}search_path = ${path}`);
    const result = await work(client);
    if (transactional) await client.query('COMMIT');
    return result;
  } catch (error) {
    if (transactional) await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    if (!transactional) await client.query('RESET search_path').catch(() => undefined);
    client.release();
  }
}

/** Runs `work` for each item, at most `limit` at once; waits for all of them, then throws the first failure. */
async function eachLimited<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await work(items[next++]!);
  };
  const settled = await Promise.allSettled(Array.from({ length: Math.min(limit, items.length) }, worker));
  const failed = settled.find((result): result is PromiseRejectedResult => result.status === 'rejected');
  if (failed) throw failed.reason;
}

/** Pages gathered into batches of at least `size` events (the last one smaller). */
async function* gathered<T>(pages: AsyncGenerator<T[]>, size: number): AsyncGenerator<T[]> {
  let batch: T[] = [];
  for await (const page of pages) {
    batch = batch.length === 0 ? page : batch.concat(page);
    if (batch.length >= size) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length > 0) yield batch;
}

/** Reads the next batch while the current one is applied, so reading and writing overlap. */
async function* readAhead<T>(source: AsyncGenerator<T>): AsyncGenerator<T> {
  let next = source.next();
  try {
    while (true) {
      const current = await next;
      if (current.done) return;
      next = source.next();
      yield current.value;
    }
  } finally {
    // Stopped early (interrupted): the read already under way is not waited for, nor may it fail unheard.
    next.catch(() => undefined);
  }
}

async function shadowCheckpoint(
  client: DbClient | Db,
  shadow: string,
  projection: string,
  tenant: string,
): Promise<string | undefined> {
  const { rows } = await client.query<{ stream_id: string }>(
    `SELECT stream_id FROM ${shadow}.projection_checkpoints WHERE projection = $1 AND tenant_id = $2`,
    [projection, tenant],
  );
  return rows[0]?.stream_id;
}

/** Empty shadow copies of the projection's tables and of the checkpoints, keyed like the live ones. */
async function createShadow(db: Db, schema: string, shadow: string, tables: readonly string[]): Promise<void> {
  await withSearchPath(db, schema, async (client) => {
    await client.query(`CREATE SCHEMA ${shadow}`);
    for (const table of [...tables, 'projection_checkpoints']) {
      // Only what the projection's upserts need: the primary key. The live table's other indexes
      // and triggers apply when the rows are copied in at the swap. Unlogged: a build writes no WAL;
      // after a Postgres crash the shadow tables come back empty, checkpoints included, so the
      // rebuild starts over consistently.
      await client.query(
        `CREATE UNLOGGED TABLE ${shadow}.${table} (LIKE ${schema}.${table} INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING GENERATED)`,
      );
      const { rows } = await client.query<{ definition: string }>(
        "SELECT pg_get_constraintdef(oid) AS definition FROM pg_constraint WHERE conrelid = $1::regclass AND contype = 'p'",
        [`${schema}.${table}`],
      );
      for (const { definition } of rows) await client.query(`ALTER TABLE ${shadow}.${table} ADD ${definition}`);
    }
  });
}

/** Replaces the tenants' live rows and checkpoints with the shadow's (inside the caller's locking transaction). */
async function swapIn(
  client: DbClient,
  target: { schema: string; shadow: string; tables: readonly string[]; tenants: readonly string[]; projection: string },
): Promise<void> {
  const { schema, shadow, tables, tenants } = target;
  for (const table of tables) {
    const { rows } = await client.query<{ column_name: string }>(
      "SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 AND is_generated = 'NEVER' ORDER BY ordinal_position",
      [schema, table],
    );
    const columns = rows.map((row) => `"${row.column_name}"`).join(', ');
    await client.query(`DELETE FROM ${schema}.${table} WHERE tenant_id = ANY($1)`, [tenants]);
    await client.query(
      `INSERT INTO ${schema}.${table} (${columns}) SELECT ${columns} FROM ${shadow}.${table} WHERE tenant_id = ANY($1)`,
      [tenants],
    );
  }
  await client.query(
    `INSERT INTO ${schema}.projection_checkpoints AS c (projection, tenant_id, stream_id, updated_at)
       SELECT projection, tenant_id, stream_id, now() FROM ${shadow}.projection_checkpoints WHERE projection = $1
     ON CONFLICT (projection, tenant_id) DO UPDATE SET stream_id = EXCLUDED.stream_id, updated_at = now()
     WHERE stream_position(c.stream_id) < stream_position(EXCLUDED.stream_id)`,
    [target.projection],
  );
}

/** Applies a tenant's batch with the live runner's own processor; throws the first entry's failure. */
function applier(projection: Projection, db: Db, signal: AbortSignal | undefined) {
  const processor = projectionProcessor(projection, db);
  return async (tenant: string, batch: StreamEvent[]) => {
    const outcomes = await processor.process(batch, {
      group: projection.group,
      tenant,
      signal: signal ?? new AbortController().signal,
      attempts: new Map(),
    });
    const failure = outcomes.find((outcome) => !outcome.ok);
    if (failure && !failure.ok) throw failure.error;
  };
}

/** One progress for all the tenants of a rebuild, reported after every batch whichever tenant it was. */
class ProgressTotals {
  phase: RebuildProgress['phase'] = 'build';
  applied = 0;
  total = 0;
  private readonly inFlight = new Set<string>();
  private tenantsDone = 0;

  constructor(
    private readonly tenantCount: number,
    private readonly onProgress: RebuildOptions['onProgress'],
  ) {}

  enter(phase: RebuildProgress['phase']): void {
    this.phase = phase;
    this.tenantsDone = 0;
    // What is left to catch up is not counted: the bar ends where the build's estimate ended.
    if (phase !== 'build') this.total = this.applied;
    if (phase === 'swap' || phase === 'done') this.tenantsDone = this.tenantCount;
    if (phase !== 'catch-up') this.report();
  }

  started(tenant: string): void {
    this.inFlight.add(tenant);
  }

  add(events: number): void {
    this.applied += events;
    this.report();
  }

  finished(tenant: string): void {
    this.inFlight.delete(tenant);
    this.tenantsDone += 1;
  }

  private report(): void {
    this.onProgress?.({
      phase: this.phase,
      applied: this.applied,
      total: Math.max(this.total, this.applied),
      inFlight: [...this.inFlight],
      tenantsDone: this.tenantsDone,
      tenantCount: this.tenantCount,
    });
  }
}

/**
 * Rebuilds a projection from history into a shadow copy of its tables while live processing goes
 * on, then catches up and swaps the rebuilt rows in, in one transaction. The same projection code
 * applies the events; only the tables it writes to (through search_path) differ. Progress is
 * checkpointed in the shadow schema, so an interrupted rebuild resumes where it stopped.
 */
export async function rebuildProjection(options: RebuildOptions): Promise<RebuildResult> {
  const { db, projection, schema, tenants } = options;
  const tables = projection.tables;
  if (!tables || tables.length === 0) throw new Error(`Projection ${projection.name} cannot be rebuilt`);
  const shadow = shadowSchemaName(schema, projection.name, tenants);
  if (options.restart) await db.query(`DROP SCHEMA IF EXISTS ${shadow} CASCADE`);
  const resumed =
    (await db.query('SELECT 1 FROM information_schema.schemata WHERE schema_name = $1', [shadow])).rowCount === 1;
  if (!resumed) await createShadow(db, schema, shadow, tables);
  // The shadow tables come first: the projection's SQL finds them; functions are found in the live schema.
  const path = `${shadow}, ${schema}`;
  // The live runner's own processor applies history, on connections that write to the shadow tables.
  const parallel = Math.max(1, options.parallelTenants ?? 2);
  const shadowDb = poolWithSearchPath(db, path, parallel + 1);
  const apply = applier(projection, shadowDb, options.signal);
  const progress = new ProgressTotals(tenants.length, options.onProgress);

  const applyHistory = async (tenant: string) => {
    const after = await shadowCheckpoint(db, shadow, projection.name, tenant);
    progress.started(tenant);
    const batchSize = options.batchSize ?? 20_000;
    const pageSize = Math.min(batchSize, options.pageSize ?? 5_000);
    for await (const batch of readAhead(
      gathered(readHistory(options, tenant, { after, batchSize: pageSize }), batchSize),
    )) {
      await apply(tenant, batch);
      progress.add(batch.length);
      if (progress.phase === 'build' && options.signal?.aborted) throw new RebuildInterrupted(shadow);
    }
    progress.finished(tenant);
  };

  try {
    const counts = await Promise.all(
      tenants.map(async (tenant) =>
        countHistory(options, tenant, await shadowCheckpoint(db, shadow, projection.name, tenant)),
      ),
    );
    progress.total = counts.reduce((a, b) => a + b, 0);
    await eachLimited(tenants, parallel, async (tenant) => {
      if (options.signal?.aborted) throw new RebuildInterrupted(shadow);
      await applyHistory(tenant);
    });

    await withSearchPath(db, path, async (client) => {
      // Live writers wait while the last events are applied (into the shadow tables, by the
      // processor's own connections) and the rows are swapped in.
      for (const table of tables) await client.query(`LOCK TABLE ${schema}.${table} IN SHARE ROW EXCLUSIVE MODE`);
      progress.enter('catch-up');
      for (const tenant of tenants) await applyHistory(tenant);
      progress.enter('swap');
      await swapIn(client, { schema, shadow, tables, tenants, projection: projection.name });
      // The processor's connections must not hold the shadow schema open while it is dropped.
      await shadowDb.end();
      await client.query(`DROP SCHEMA ${shadow} CASCADE`);
    });
  } finally {
    if (!shadowDb.ended) await shadowDb.end();
  }
  progress.enter('done');
  return { shadowSchema: shadow, events: progress.applied, resumed, swapped: true };
}
