// A throw-away PostgreSQL for tests: initdb into a temp dir, listening on a unix socket in that
// dir and on a free loopback port, started and stopped by scripts/engines/*.sh (no systemd, nothing
// outside the dir). Tests that need it skip only when Debian's postgresql-15 is not installed.
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';

const run = promisify(execFile);
const scripts = join(import.meta.dirname, '..', '..', '..', 'scripts', 'engines');

function pgBin(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => existsSync(join(root, v, 'bin', 'initdb')))
    .sort((a, b) => Number(a) - Number(b));
  const newest = versions.at(-1);
  return newest === undefined ? undefined : join(root, newest, 'bin');
}

/** Why PostgreSQL tests skip here, or undefined when the server binaries are installed. */
export const postgresSkipReason: string | undefined =
  pgBin() === undefined
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

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Starts PostgreSQL in a new temp dir (about 1–2 s). */
export async function startPostgres(): Promise<PostgresEngine> {
  const bin = pgBin();
  if (bin === undefined) throw new Error(postgresSkipReason);
  const dir = await mkdtemp(join(tmpdir(), 'rigcap-pg-'));
  let port = 0;
  for (let attempt = 0; ; attempt++) {
    port = await freePort();
    try {
      await run('bash', [join(scripts, 'start-postgres.sh'), dir, String(port)], {
        env: { ...process.env, PG_BIN: bin, PG_DB: 'rigcap' },
      });
      break;
    } catch (err) {
      // Another process may take the free port between the probe and the server's bind.
      if (attempt >= 2) throw err;
      await run('bash', [join(scripts, 'stop.sh'), dir]).catch(() => undefined);
      await run('rm', ['-rf', join(dir, 'pgdata'), join(dir, 'run'), join(dir, 'log'), join(dir, 'pids')]);
    }
  }
  const socketDir = join(dir, 'run');
  const urlOf = (database: string): string =>
    `postgresql://postgres@localhost:${port}/${database}?host=${encodeURIComponent(socketDir)}`;
  let made = 0;
  return {
    dir,
    port,
    socketDir,
    urlOf,
    async createDatabase(): Promise<string> {
      const name = `t${process.pid}_${++made}`;
      const client = new pg.Client({ connectionString: urlOf('rigcap') });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE ${name}`);
      } finally {
        await client.end();
      }
      return urlOf(name);
    },
    async restart(): Promise<void> {
      await run('bash', [join(scripts, 'restart-postgres.sh'), dir], {
        env: { ...process.env, PG_BIN: bin },
      });
    },
    async stop(): Promise<void> {
      await run('bash', [join(scripts, 'stop.sh'), dir, '--rm']);
    },
  };
}
