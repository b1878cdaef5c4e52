// Persists every calibration version seen, so versions stay monotonic across restarts and the
// drift history survives. A port with two adapters: memory (tests, no spool) and SQLite (a
// better-sqlite3 handle the composition root owns, or the spool's own calibration file).
import Database from 'better-sqlite3';
import { join } from 'node:path';
import type { CalibrationKind, Extrinsic } from './types.ts';

/** One stored version of one sensor's calibration. */
export interface CalibrationVersionRow {
  sensor: string;
  version: number;
  sha256: string;
  kind: CalibrationKind;
  recordedAtNs: bigint;
  extrinsics: Extrinsic[];
}

/** Where calibration versions live. */
export interface CalibrationHistoryStore {
  latest(sensor: string): CalibrationVersionRow | undefined;
  append(row: CalibrationVersionRow): void;
  /** Every version, ordered by sensor then version. */
  all(): CalibrationVersionRow[];
}

/** In-memory store (tests, and runs without a spool). */
export class MemoryCalibrationHistoryStore implements CalibrationHistoryStore {
  readonly #rows: CalibrationVersionRow[] = [];

  /** The newest version of `sensor`. */
  latest(sensor: string): CalibrationVersionRow | undefined {
    return this.#rows.filter((r) => r.sensor === sensor).at(-1);
  }

  /** Adds a version. */
  append(row: CalibrationVersionRow): void {
    this.#rows.push(row);
  }

  /** Every version, ordered by sensor then version. */
  all(): CalibrationVersionRow[] {
    return [...this.#rows].sort((a, b) =>
      a.sensor < b.sensor ? -1 : a.sensor > b.sensor ? 1 : a.version - b.version,
    );
  }
}

/** File name of the calibration history inside a spool when no shared catalog handle is passed. */
export const calibrationHistoryFileName = 'calibration-history.sqlite';

interface SqlRow {
  sensor: string;
  version: number;
  sha256: string;
  kind: string;
  recorded_at_ns: string;
  extrinsics: string;
}

/** A `calib_versions` table on a better-sqlite3 handle (the catalog's, or a file of its own). */
export class SqliteCalibrationHistoryStore implements CalibrationHistoryStore {
  readonly #db: Database.Database;

  constructor(db: Database.Database) {
    this.#db = db;
    db.exec(`CREATE TABLE IF NOT EXISTS calib_versions (
      sensor TEXT NOT NULL,
      version INTEGER NOT NULL,
      sha256 TEXT NOT NULL,
      kind TEXT NOT NULL,
      recorded_at_ns TEXT NOT NULL,
      extrinsics TEXT NOT NULL,
      PRIMARY KEY (sensor, version)
    ) STRICT`);
  }

  /** The newest version of `sensor`. */
  latest(sensor: string): CalibrationVersionRow | undefined {
    const row = this.#db
      .prepare('SELECT * FROM calib_versions WHERE sensor = ? ORDER BY version DESC LIMIT 1')
      .get(sensor) as SqlRow | undefined;
    return row === undefined ? undefined : fromSql(row);
  }

  /** Adds a version (the primary key refuses a duplicate version). */
  append(row: CalibrationVersionRow): void {
    this.#db
      .prepare(
        'INSERT INTO calib_versions (sensor, version, sha256, kind, recorded_at_ns, extrinsics) VALUES (?, ?, ?, ?, ?, ?)',
      )
      .run(
        row.sensor,
        row.version,
        row.sha256,
        row.kind,
        String(row.recordedAtNs),
        JSON.stringify(row.extrinsics),
      );
  }

  /** Every version, ordered by sensor then version. */
  all(): CalibrationVersionRow[] {
    return (this.#db.prepare('SELECT * FROM calib_versions ORDER BY sensor, version').all() as SqlRow[]).map(
      fromSql,
    );
  }
}

function fromSql(row: SqlRow): CalibrationVersionRow {
  return {
    sensor: row.sensor,
    version: row.version,
    sha256: row.sha256,
    kind: row.kind as CalibrationKind,
    recordedAtNs: BigInt(row.recorded_at_ns),
    extrinsics: JSON.parse(row.extrinsics) as Extrinsic[],
  };
}

/** Opens (creating if asked) the spool's own calibration history file. */
export function openSpoolCalibrationHistory(
  spoolDir: string,
  options: { readonly: boolean },
): { store: SqliteCalibrationHistoryStore; close(): void } {
  const db = new Database(join(spoolDir, calibrationHistoryFileName), {
    readonly: options.readonly,
    fileMustExist: options.readonly,
  });
  if (!options.readonly) db.pragma('journal_mode = WAL');
  return { store: new SqliteCalibrationHistoryStore(db), close: () => db.close() };
}
