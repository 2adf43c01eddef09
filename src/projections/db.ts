import pg from 'pg';
import type { Config } from '../config/config.js';

export type Db = pg.Pool;
export type DbClient = pg.PoolClient;

/** Creates the database when missing, then a pool whose connections use the configured schema. */
export async function openDatabase(
  config: Pick<Config, 'databaseUrl' | 'databaseSchema'>,
  options: { max?: number } = {},
): Promise<Db> {
  await createDatabaseIfMissing(config.databaseUrl);
  const pool = new pg.Pool({
    connectionString: config.databaseUrl,
    max: options.max ?? 10,
    options: `-c search_path=${config.databaseSchema}`,
    connectionTimeoutMillis: 5_000,
    application_name: `streamdesk:${config.databaseSchema}`,
  });
  // A connection dying (a restart, pg_terminate_backend) must not crash the process: the query that
  // was running fails and reports it. Every client gets a listener of its own for as long as it
  // lives, because a dying connection can emit 'error' more than once, even after pg-pool's own
  // one-shot listener of a running pool.query() is gone.
  pool.on('error', () => undefined);
  pool.on('connect', (client) => client.on('error', () => undefined));
  if (config.databaseSchema !== 'public') await pool.query(`CREATE SCHEMA IF NOT EXISTS ${config.databaseSchema}`);
  return pool;
}

/**
 * A small pool on the same database as `db` whose connections look tables up in `searchPath`
 * (comma-separated schemas) first: the same code then writes to other copies of its tables.
 */
export function poolWithSearchPath(db: Db, searchPath: string, max = 2): Db {
  const pool = new pg.Pool({ ...db.options, max, options: `-c search_path=${searchPath.replace(/\s+/g, '')}` });
  pool.on('error', () => undefined);
  pool.on('connect', (client) => client.on('error', () => undefined));
  return pool;
}

async function createDatabaseIfMissing(databaseUrl: string): Promise<void> {
  const url = new URL(databaseUrl);
  const name = decodeURIComponent(url.pathname.slice(1)) || 'postgres';
  url.pathname = '/postgres';
  const admin = new pg.Client({ connectionString: url.toString(), connectionTimeoutMillis: 5_000 });
  await admin.connect();
  try {
    const { rowCount } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (rowCount === 0) {
      await admin.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`).catch((error: { code?: string }) => {
        if (error.code !== '42P04') throw error; // created concurrently by another process
      });
    }
  } finally {
    await admin.end();
  }
}

export async function inTransaction<T>(db: Db, work: (client: DbClient) => Promise<T>): Promise<T> {
  const client = await db.connect();
  let broken: Error | undefined;
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    // A connection that cannot even roll back is not handed out again.
    await client.query('ROLLBACK').catch((rollbackError: Error) => (broken = rollbackError));
    throw error;
  } finally {
    client.release(broken);
  }
}
