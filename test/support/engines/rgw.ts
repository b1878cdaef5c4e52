// A throw-away S3 server for tests: Ceph RADOS Gateway on a one-node cluster (1 mon, 1 OSD) in a
// temp dir, started and stopped by scripts/engines/start-ceph-rgw.sh and stop.sh (no systemd,
// nothing written outside the dir). Tests that need it skip only when Debian's Ceph packages are
// not installed. The S3 credentials are handed out as values for the AWS environment variables.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const scripts = join(import.meta.dirname, '..', '..', '..', 'scripts', 'engines');
const binaries = ['radosgw', 'radosgw-admin', 'ceph', 'ceph-mon', 'ceph-osd', 'monmaptool', 'curl'];

function onPath(name: string): boolean {
  return (process.env['PATH'] ?? '').split(':').some((dir) => dir !== '' && existsSync(join(dir, name)));
}

/** Why RGW tests skip here, or undefined when the Ceph binaries are installed. */
export const rgwSkipReason: string | undefined = (() => {
  const missing = binaries.filter((b) => !onPath(b));
  if (missing.length > 0) {
    return `Ceph RGW binaries missing (${missing.join(', ')}): install the Debian packages radosgw ceph-mon ceph-osd ceph-common curl`;
  }
  if (process.getuid?.() !== 0)
    return 'Ceph RGW test cluster needs root (its daemons run without systemd as root)';
  return undefined;
})();

/** A running RGW with one bucket. */
export interface RgwEngine {
  readonly dir: string;
  readonly endpoint: string;
  readonly bucket: string;
  /** AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION for the created user. */
  readonly awsEnv: Readonly<Record<string, string>>;
  /** Stops radosgw and starts it again on the same port (mon and OSD keep running). */
  restart(): Promise<void>;
  /** Stops the daemons (reverse start order) and removes the dir. */
  stop(): Promise<void>;
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
 * Starts RGW in a new temp dir (3–8 s on an idle machine). The OSD keeps data in memory (memstore,
 * 4 GiB) unless `bluestore` is asked for, which keeps RSS bounded for large uploads.
 */
export async function startRgw(o: { bluestore?: boolean; bucket?: string } = {}): Promise<RgwEngine> {
  if (rgwSkipReason !== undefined) throw new Error(rgwSkipReason);
  const bucket = o.bucket ?? 'rigcap-test';
  for (let attempt = 0; ; attempt++) {
    const dir = await mkdtemp(join(tmpdir(), 'rigcap-rgw-'));
    // PORT, PORT+1 and PORT+10..99 are used; a random base 100 apart keeps parallel files apart.
    const port = 20_000 + 100 * Math.floor(Math.random() * 400);
    try {
      const { stdout } = await run('bash', [join(scripts, 'start-ceph-rgw.sh'), dir, String(port)], {
        env: {
          ...process.env,
          S3_BUCKET: bucket,
          CEPH_OSD_BACKEND: o.bluestore === true ? 'bluestore' : 'memstore',
          CEPH_OSD_SIZE_GB: o.bluestore === true ? '20' : '4',
        },
        maxBuffer: 1024 * 1024,
      });
      const env = parseExports(stdout);
      const stop = async (): Promise<void> => {
        await run('bash', [join(scripts, 'stop.sh'), dir, '--rm']);
      };
      return {
        dir,
        endpoint: env['S3_ENDPOINT'] ?? `http://127.0.0.1:${port}`,
        bucket,
        awsEnv: {
          AWS_ACCESS_KEY_ID: env['AWS_ACCESS_KEY_ID'] ?? '',
          AWS_SECRET_ACCESS_KEY: env['AWS_SECRET_ACCESS_KEY'] ?? '',
          AWS_REGION: env['AWS_REGION'] ?? 'us-east-1',
        },
        stop,
        async restart(): Promise<void> {
          await run('bash', [join(scripts, 'restart-rgw.sh'), dir]);
        },
      };
    } catch (err) {
      // The script has already killed what it started; a busy port is retried on another base.
      if (existsSync(join(dir, 'pids')))
        await run('bash', [join(scripts, 'stop.sh'), dir]).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
      if (attempt >= 2) throw err;
    }
  }
}

/** Sets the engine's credentials as the AWS environment of this process (test workers only). */
export function useRgwCredentials(engine: RgwEngine): void {
  for (const [name, value] of Object.entries(engine.awsEnv)) process.env[name] = value;
}
