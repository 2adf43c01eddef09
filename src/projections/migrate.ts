import { readdirSync, readFileSync } from 'node:fs';
import type { Db } from './db.js';

const migrationsDir = new URL('./migrations/', import.meta.url);

/** Applies the numbered SQL migrations not yet recorded, each in its own transaction. Returns the versions applied. */
export async function migrate(db: Db): Promise<string[]> {
  const client = await db.connect();
  try {
    // One migrator at a time per schema: processes starting together must not race.
    await client.query('SELECT pg_advisory_lock(hashtext(current_schema()))');
    await client.query(
      'CREATE TABLE IF NOT EXISTS schema_migrations (version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())',
    );
    const { rows } = await client.query<{ version: string }>('SELECT version FROM schema_migrations');
    const applied = new Set(rows.map((row) => row.version));
    const files = readdirSync(migrationsDir)
      .filter((file) => /^\d+_.+\.sql$/.test(file))
      .sort();
    const newlyApplied: string[] = [];
    for (const file of files) {
      const version = file.replace(/\.sql$/, '');
      if (applied.has(version)) continue;
      await client.query('BEGIN');
      try {
        await client.query(readFileSync(new URL(file, migrationsDir), 'utf8'));
        await client.query('INSERT INTO schema_migrations (version) VALUES ($1)', [version]);
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK');
        throw new Error(`Migration ${file} failed: ${(error as Error).message}`);
      }
      newlyApplied.push(version);
    }
    return newlyApplied;
  } finally {
    await client.query('SELECT pg_advisory_unlock(hashtext(current_schema()))').catch(() => undefined);
    client.release();
  }
}
