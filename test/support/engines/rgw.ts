// A throw-away S3 server for tests: Ceph RADOS Gateway on a one-node cluster (1 mon, 1 OSD) in a
// temp dir, started by scripts/engines/engines.ts (no systemd, nothing written outside the dir).
// Tests that need it skip only when Debian's Ceph packages are not installed. The S3 credentials
// are handed out as values for the AWS environment variables.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { startRgwEngine, type RgwEngine } from '../../../scripts/engines/engines.ts';

export type { RgwEngine } from '../../../scripts/engines/engines.ts';

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

/**
 * Starts RGW in a new temp dir (3–8 s on an idle machine). The OSD keeps data in memory (memstore,
 * 4 GiB) unless `bluestore` is asked for, which keeps RSS bounded for large uploads.
 */
export async function startRgw(o: { bluestore?: boolean; bucket?: string } = {}): Promise<RgwEngine> {
  if (rgwSkipReason !== undefined) throw new Error(rgwSkipReason);
  return startRgwEngine({ bucket: o.bucket ?? 'rigcap-test', memstore: o.bluestore !== true, attempts: 3 });
}

/** Sets the engine's credentials as the AWS environment of this process (test workers only). */
export function useRgwCredentials(engine: RgwEngine): void {
  for (const [name, value] of Object.entries(engine.awsEnv)) process.env[name] = value;
}
