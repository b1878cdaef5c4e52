// Commits that later allow deleting data or must never go backwards run with synchronous=FULL; the
// rest of the catalog runs at NORMAL (see catalog.ts for why that is safe).
import type Database from 'better-sqlite3';

/** Runs `fn` in a transaction committed with synchronous=FULL. */
export function durably<T>(db: Database.Database, fn: () => T): T {
  db.pragma('synchronous = FULL');
  try {
    return db.transaction(fn)();
  } finally {
    db.pragma('synchronous = NORMAL');
  }
}
