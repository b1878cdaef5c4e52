// Opens the state adapter a receiver is configured with: PostgreSQL when a database URL is given
// (loaded lazily, so the embedded store never loads `pg`), else SQLite in DIR/log/receiver.sqlite.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Pool } from 'pg';
import type { Logger } from '../../agent/log.ts';
import type { ReceiverState } from '../state.ts';

/** Connection settings of the PostgreSQL state. */
export interface StateDatabase {
  /** postgres://user@host:port/db; never carries the password (see README). */
  url: string;
  /** Password read from a file; otherwise PGPASSWORD or PGPASSFILE/~/.pgpass apply. */
  password?: string;
  maxConnections?: number;
}

/** The embedded state file of a store directory. */
export function embeddedStatePath(dataDir: string): string {
  return join(dataDir, 'log', 'receiver.sqlite');
}

/** An opened state, and its PostgreSQL pool when it has one (the tus Locker shares it). */
export interface OpenedState {
  state: ReceiverState;
  pool?: Pool;
}

/** Opens (and migrates) the state: `db` wins over `dataDir`. */
export async function openReceiverState(options: {
  dataDir?: string;
  db?: StateDatabase;
  log: Logger;
}): Promise<OpenedState> {
  if (options.db !== undefined) {
    const { openPgReceiverState } = await import('./pg/pg-state.ts');
    const state = await openPgReceiverState({ ...options.db, log: options.log });
    return { state, pool: state.pool };
  }
  if (options.dataDir === undefined)
    throw new TypeError('the receiver state needs a data directory or a database');
  await mkdir(join(options.dataDir, 'log'), { recursive: true });
  const { EmbeddedReceiverState } = await import('./embedded.ts');
  return { state: new EmbeddedReceiverState(embeddedStatePath(options.dataDir)) };
}
