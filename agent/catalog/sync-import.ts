// One-time import of a spool's former sync database (`sync.sqlite`, written by rigcap before the
// catalog held sync state): its records, upload offsets, receipts and checkpoints move into the
// catalog, synced chunks become `synced` and chunks retention deleted become `deleted`, so an
// upgraded robot neither re-sends nor forgets anything. The file is then renamed
// `sync.sqlite.imported` so the import never runs twice.
import { existsSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import type { Logger } from '../log.ts';
import { durably } from './durably.ts';

/** What an import moved. */
export interface SyncImportReport {
  records: number;
  receipts: number;
  deletedChunks: number;
}

/** The former sync database next to the catalog, if any. */
export function legacySyncPath(catalogPath: string): string | undefined {
  if (catalogPath === ':memory:' || catalogPath === '') return undefined;
  return join(dirname(catalogPath), 'sync.sqlite');
}

/** Imports `legacyPath` into the (migrated) catalog `db` and renames it; undefined when there is none. */
export function importLegacySyncState(
  db: Database.Database,
  legacyPath: string,
  log: Logger,
): SyncImportReport | undefined {
  if (!existsSync(legacyPath)) return undefined;
  // Fold any WAL into the main file first, so the attached copy and the renamed file hold everything.
  const legacy = new Database(legacyPath, { fileMustExist: true });
  let tables: Set<string>;
  try {
    legacy.pragma('wal_checkpoint(TRUNCATE)');
    legacy.pragma('journal_mode = DELETE');
    tables = new Set(
      (
        legacy.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as Array<{ name: string }>
      ).map((t) => t.name),
    );
  } finally {
    legacy.close();
  }
  db.prepare('ATTACH DATABASE ? AS legacy').run(legacyPath);
  let report: SyncImportReport;
  try {
    report = durably(db, () => {
      const before = Number((db.prepare('SELECT COUNT(*) AS n FROM records').get() as { n: unknown }).n);
      if (tables.has('sync_items')) {
        db.exec(`
          INSERT OR IGNORE INTO records (signer_id, seq, kind, path, blob_path, blob_sha256, blob_bytes, priority,
                                         sync_state, upload_url, upload_offset, attempts, next_attempt_ms, last_error,
                                         receipt_json, log_index, synced_ms)
          SELECT signer_id, seq, predicate, record_path, blob_path, blob_sha256, blob_bytes, priority,
                 state, upload_url, upload_offset, attempts, next_attempt_ms, last_error,
                 receipt_json, log_index, synced_ms
            FROM legacy.sync_items WHERE state IN ('pending', 'synced', 'refused');
        `);
      }
      const records =
        Number((db.prepare('SELECT COUNT(*) AS n FROM records').get() as { n: unknown }).n) - before;
      let receipts = 0;
      let deletedChunks = 0;
      if (tables.has('sync_items')) {
        receipts = db
          .prepare(
            `UPDATE chunks SET state = 'synced'
             WHERE state IN ('committed', 'sealed') AND EXISTS (
               SELECT 1 FROM legacy.sync_items i WHERE i.blob_path = chunks.path AND i.blob_sha256 = chunks.sha256
                 AND i.state = 'synced' AND i.receipt_json IS NOT NULL)`,
          )
          .run().changes;
        // Retention deleted these (only ever after a receipt); reconcile may have flagged them missing since.
        deletedChunks = db
          .prepare(
            `UPDATE chunks SET state = 'deleted', flag = NULL
             WHERE state <> 'deleted' AND EXISTS (
               SELECT 1 FROM legacy.sync_items i WHERE i.blob_path = chunks.path AND i.blob_sha256 = chunks.sha256
                 AND i.state = 'synced' AND i.receipt_json IS NOT NULL AND i.deleted = 1)`,
          )
          .run().changes;
      }
      if (tables.has('sync_meta'))
        db.exec(`INSERT OR IGNORE INTO kv (key, value) SELECT 'sync.' || key, value FROM legacy.sync_meta`);
      return { records, receipts, deletedChunks };
    });
  } finally {
    db.exec('DETACH DATABASE legacy');
  }
  renameSync(legacyPath, `${legacyPath}.imported`);
  for (const suffix of ['-wal', '-shm']) rmSync(`${legacyPath}${suffix}`, { force: true });
  log.info({ ...report, from: legacyPath }, 'sync state imported into the catalog');
  return report;
}
