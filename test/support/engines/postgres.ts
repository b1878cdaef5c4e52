// A throw-away PostgreSQL for tests: scripts/engines/engines.ts starts it in a temp dir, listening on
// a unix socket in that dir and on a free loopback port (no systemd, nothing outside the dir). Tests
// that need it skip only when Debian's postgresql-15 is not installed.
import pg from 'pg';
import { postgresBin, startPostgresEngine } from '../../../scripts/engines/engines.ts';

/** Why PostgreSQL tests skip here, or undefined when the server binaries are installed. */
export const postgresSkipReason: string | undefined =
  postgresBin() === undefined
    ? 'PostgreSQL server binaries missing: install the Debian package postgresql-15'
    : undefined;

/** A running test server. */
export interface PostgresEngine {
  readonly dir: string;
  readonly port: number;
  /** Directory of the unix socket. */
  readonly socketDir: string;
  /** A new empty database; returns its URL (unix socket, user postgres, no password). */
  createDatabase(): Promise<string>;
  /** URL of an existing database over the unix socket. */
  urlOf(database: string): string;
  /** Fast shutdown and start again (every client connection is cut). */
  restart(): Promise<void>;
  /** Fast shutdown, then removes the dir. */
  stop(): Promise<void>;
}

/** Starts PostgreSQL in a new temp dir (about 1–2 s), fsync off. */
export async function startPostgres(): Promise<PostgresEngine> {
  if (postgresSkipReason !== undefined) throw new Error(postgresSkipReason);
  const engine = await startPostgresEngine({ durable: false, attempts: 3 });
  let made = 0;
  return {
    dir: engine.dir,
    port: engine.port,
    socketDir: engine.socketDir,
    urlOf: engine.urlOf,
    async createDatabase(): Promise<string> {
      const name = `t${process.pid}_${++made}`;
      const client = new pg.Client({ connectionString: engine.url });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE ${name}`);
      } finally {
        await client.end();
      }
      return engine.urlOf(name);
    },
    restart: engine.restart,
    stop: engine.stop,
  };
}
