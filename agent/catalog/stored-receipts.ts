// Custody receipts as a spool's SQLite files keep them (the catalog, or a legacy sync.sqlite not yet
// imported), read-only: for tools that inspect a spool without opening its catalog (readiness).
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import Database from 'better-sqlite3';

/** The JSON text of every stored receipt, from any table of `root/*.sqlite` with a `receipt_json` column. */
export async function storedReceiptJson(root: string): Promise<string[]> {
  const out: string[] = [];
  const names = (await readdir(root)).filter((n) => n.endsWith('.sqlite'));
  for (const name of names) {
    let db: Database.Database;
    try {
      db = new Database(join(root, name), { readonly: true, fileMustExist: true });
    } catch (err) {
      // A file that is not SQLite (or is locked for writing) holds no receipts we can read.
      if (err instanceof Database.SqliteError) continue;
      throw err;
    }
    try {
      const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as Array<{
        name: string;
      }>;
      for (const { name: table } of tables) {
        const columns = db.prepare(`PRAGMA table_info("${table.replaceAll('"', '""')}")`).all() as Array<{
          name: string;
        }>;
        if (!columns.some((c) => c.name === 'receipt_json')) continue;
        const rows = db
          .prepare(
            `SELECT receipt_json AS r FROM "${table.replaceAll('"', '""')}" WHERE receipt_json IS NOT NULL`,
          )
          .all() as Array<{ r: string }>;
        for (const { r } of rows) out.push(r);
      }
    } finally {
      db.close();
    }
  }
  return out;
}
