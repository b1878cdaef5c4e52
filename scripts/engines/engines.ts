// Throw-away PostgreSQL and Ceph RGW for benches and tests: each in a new temp dir, started and
// stopped by the start-*.sh and stop.sh scripts beside this file (no systemd, nothing written
// outside the dir).
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const scripts = import.meta.dirname;

/** A started engine. */
export interface Engine {
  readonly dir: string;
  /** Fast shutdown, then removes the dir. */
  stop(): Promise<void>;
}

/** PostgreSQL with one database (`rigcap`). */
export interface PostgresEngine extends Engine {
  readonly port: number;
  /** Directory of the unix socket. */
  readonly socketDir: string;
  /** URL of the `rigcap` database over the unix socket (user postgres, no password). */
  readonly url: string;
  /** URL of an existing database over the unix socket. */
  urlOf(database: string): string;
  /** Fast shutdown and start again (every client connection is cut). */
  restart(): Promise<void>;
}

/** RGW with one bucket. */
export interface RgwEngine extends Engine {
  readonly endpoint: string;
  readonly bucket: string;
  /** AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION of the created user. */
  readonly awsEnv: Readonly<Record<string, string>>;
  /** Stops radosgw and starts it again on the same port (mon and OSD keep running). */
  restart(): Promise<void>;
}

/** Newest installed PostgreSQL server's bin dir (Debian layout). */
export function postgresBin(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const newest = readdirSync(root)
    .filter((v) => existsSync(join(root, v, 'bin', 'initdb')))
    .sort((a, b) => Number(a) - Number(b))
    .at(-1);
  return newest === undefined ? undefined : join(root, newest, 'bin');
}

/** Free loopback port (probed, then released). */
export async function freePort(): Promise<number> {
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

function stopper(dir: string): () => Promise<void> {
  return async () => {
    await run('bash', [join(scripts, 'stop.sh'), dir, '--rm']);
  };
}

/** Stops whatever a failed start left running and removes its dir. */
async function discard(dir: string): Promise<void> {
  if (existsSync(join(dir, 'pids')))
    await run('bash', [join(scripts, 'stop.sh'), dir]).catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
}

/**
 * Starts PostgreSQL in a new temp dir (about 1–2 s); `durable` keeps fsync on, as production runs.
 * Another process may take the free port between the probe and the server's bind: up to
 * `attempts` (default 1) starts are tried, each in a new dir on a new port.
 */
export async function startPostgresEngine(o: {
  durable: boolean;
  attempts?: number;
}): Promise<PostgresEngine> {
  const bin = postgresBin();
  if (bin === undefined) throw new Error('PostgreSQL server binaries missing: install postgresql-15');
  for (let attempt = 1; ; attempt++) {
    const dir = await mkdtemp(join(tmpdir(), 'rigcap-pg-'));
    const port = await freePort();
    try {
      await run('bash', [join(scripts, 'start-postgres.sh'), dir, String(port)], {
        env: { ...process.env, PG_BIN: bin, PG_DB: 'rigcap', ...(o.durable ? { PG_DURABLE: '1' } : {}) },
      });
    } catch (err) {
      await discard(dir);
      if (attempt >= (o.attempts ?? 1)) throw err;
      continue;
    }
    const socketDir = join(dir, 'run');
    const urlOf = (database: string): string =>
      `postgresql://postgres@localhost:${port}/${database}?host=${encodeURIComponent(socketDir)}`;
    const restart = async (): Promise<void> => {
      await run('bash', [join(scripts, 'restart-postgres.sh'), dir], {
        env: { ...process.env, PG_BIN: bin },
      });
    };
    return { dir, port, socketDir, url: urlOf('rigcap'), urlOf, restart, stop: stopper(dir) };
  }
}

function parseExports(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^export ([A-Z0-9_]+)=(.*)$/.exec(line);
    if (m?.[1] !== undefined && m[2] !== undefined) out[m[1]] = m[2].replace(/^'(.*)'$/, '$1');
  }
  return out;
}

/**
 * Starts a one-node Ceph RGW (root only) in a new temp dir. The OSD keeps data on bluestore in a
 * sparse 20 GB file (RSS bounded for large uploads) unless `memstore` asks for 4 GiB in memory. A
 * failed start (a busy port) is retried on another port base, up to `attempts` (default 1) starts.
 */
export async function startRgwEngine(o: {
  bucket: string;
  memstore?: boolean;
  attempts?: number;
}): Promise<RgwEngine> {
  for (let attempt = 1; ; attempt++) {
    const dir = await mkdtemp(join(tmpdir(), 'rigcap-rgw-'));
    // PORT, PORT+1 and PORT+10..99 are used; a random base 100 apart keeps parallel runs apart.
    const port = 20_000 + 100 * Math.floor(Math.random() * 400);
    try {
      const { stdout } = await run('bash', [join(scripts, 'start-ceph-rgw.sh'), dir, String(port)], {
        env: {
          ...process.env,
          S3_BUCKET: o.bucket,
          CEPH_OSD_BACKEND: o.memstore === true ? 'memstore' : 'bluestore',
          CEPH_OSD_SIZE_GB: o.memstore === true ? '4' : '20',
        },
        maxBuffer: 1024 * 1024,
      });
      const env = parseExports(stdout);
      return {
        dir,
        endpoint: env['S3_ENDPOINT'] ?? `http://127.0.0.1:${port}`,
        bucket: o.bucket,
        awsEnv: {
          AWS_ACCESS_KEY_ID: env['AWS_ACCESS_KEY_ID'] ?? '',
          AWS_SECRET_ACCESS_KEY: env['AWS_SECRET_ACCESS_KEY'] ?? '',
          AWS_REGION: env['AWS_REGION'] ?? 'us-east-1',
        },
        async restart(): Promise<void> {
          await run('bash', [join(scripts, 'restart-rgw.sh'), dir]);
        },
        stop: stopper(dir),
      };
    } catch (err) {
      // The script has already killed what it started.
      await discard(dir);
      if (attempt >= (o.attempts ?? 1)) throw err;
    }
  }
}
