// Versioned schema migrations for the PostgreSQL state: numbered .sql files (NNN_name.sql) in
// migrations/, each applied once in its own transaction and recorded in schema_migrations. Any
// component may add files (the store's core uses 1–99); the runner applies whatever it finds, in
// number order, under a session advisory lock so receivers starting together migrate once.
import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { Pool, PoolClient } from 'pg';
import { RigcapError } from '../../../agent/errors.ts';

/** One schema step. */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

/** Folder the shipped migrations live in. */
export const migrationsDir = fileURLToPath(new URL('./migrations/', import.meta.url));

/** Advisory lock key held while migrating ('rigcapmg' as a 64-bit number). */
const migrationLockKey = '7163770740014515047';

const fileName = /^([0-9]{3,})_([a-z0-9_]+)\.sql$/;

/** Reads every NNN_name.sql in `dir`, in version order; two files with one number are refused. */
export async function loadMigrations(dir: string = migrationsDir): Promise<Migration[]> {
  const found: Migration[] = [];
  for (const entry of (await readdir(dir)).sort()) {
    const m = fileName.exec(entry);
    if (m === null) continue;
    found.push({
      version: Number(m[1]),
      name: m[2] ?? entry,
      sql: await readFile(`${dir}/${entry}`, 'utf8'),
    });
  }
  found.sort((a, b) => a.version - b.version);
  for (let i = 1; i < found.length; i++) {
    if (found[i]?.version === found[i - 1]?.version)
      throw new RigcapError('RIGCAP_INTERNAL', `two migrations are numbered ${found[i]?.version}`);
  }
  return found;
}

/** Versions already applied to the database (empty when it was never migrated). */
export async function appliedVersions(client: Pool | PoolClient): Promise<number[]> {
  const exists = await client.query<{ t: string | null }>(
    "SELECT to_regclass('schema_migrations')::text AS t",
  );
  if (exists.rows[0]?.t === null || exists.rows[0]?.t === undefined) return [];
  const r = await client.query<{ version: string }>('SELECT version FROM schema_migrations ORDER BY version');
  return r.rows.map((row) => Number(row.version));
}

/**
 * Brings the database up to the newest migration (or to `upTo`), one transaction per step.
 * Returns the versions it applied.
 */
export async function migrate(
  pool: Pool,
  options: { migrations?: readonly Migration[]; upTo?: number } = {},
): Promise<number[]> {
  const migrations = options.migrations ?? (await loadMigrations());
  const client = await pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [migrationLockKey]);
    try {
      await client.query(
        `CREATE TABLE IF NOT EXISTS schema_migrations (
           version BIGINT PRIMARY KEY,
           name TEXT NOT NULL,
           applied_at TIMESTAMPTZ NOT NULL DEFAULT now())`,
      );
      const done = new Set(await appliedVersions(client));
      const applied: number[] = [];
      for (const m of migrations) {
        if (done.has(m.version) || (options.upTo !== undefined && m.version > options.upTo)) continue;
        await client.query('BEGIN');
        try {
          await client.query(m.sql);
          await client.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [
            m.version,
            m.name,
          ]);
          await client.query('COMMIT');
        } catch (err) {
          await client.query('ROLLBACK');
          throw new RigcapError(
            'RIGCAP_STORE_STATE_UNAVAILABLE',
            `migration ${m.version}_${m.name} failed: ${(err as Error).message}`,
            { cause: err },
          );
        }
        applied.push(m.version);
      }
      return applied;
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [migrationLockKey]);
    }
  } finally {
    client.release();
  }
}
