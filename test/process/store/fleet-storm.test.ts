// A storm of 50 concurrent uploads through two `rigcap receiver --db …` processes behind one
// address, each upload sent by the agent's tus client (signed, part by part): every blob arrives
// whole and verified, and each receiver's peak RSS (the kernel's VmHWM) stays under a stated bound,
// far below what buffering parts whole would take. CI size: 50 × 8 MiB on PostgreSQL + RGW. With
// RIGCAP_HEAVY_TESTS=1: 50 × 256 MiB, blobs on local disk (--data; the one-node test RGW's 20 GiB
// OSD cannot hold 12.5 GiB of uploads and their blobs at once), state still on PostgreSQL.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../agent/log.ts';
import { TusClient } from '../../../agent/sync/tus-client.ts';
import { postgresSkipReason, startPostgres, type PostgresEngine } from '../../support/engines/postgres.ts';
import { rgwSkipReason, startRgw, type RgwEngine } from '../../support/engines/rgw.ts';
import { pool } from '../../support/fleet-devices.ts';
import { startBalancer, type FleetBalancer } from '../../support/fleet-lb.ts';
import { send } from '../../support/fleet-requests.ts';
import { fleetArgs, startReceivers, type ReceiverInstance } from '../../support/fleet-rig.ts';
import { heavySkipReason } from '../../support/heavy.ts';
import { FakeDevice } from '../../integration/sync/fake-device.ts';

const heavy = heavySkipReason === undefined;
const uploads = 50;
const uploadBytes = (heavy ? 256 : 8) * 1024 * 1024;
const partBytes = 8 * 1024 * 1024;
/** Peak RSS each receiver must stay under (measured figures in README "Fleet store"). */
const rssBoundMb = heavy ? 480 : 320;
const skip = postgresSkipReason ?? (heavy ? undefined : rgwSkipReason);

/** Part `k` of upload `u`: one random block, stamped with (u, k) so every upload is its own blob. */
function partOf(base: Buffer, u: number, k: number, length: number): Buffer {
  const part = Buffer.from(base.subarray(0, length));
  part.writeUInt32BE(u, 0);
  part.writeUInt32BE(k, 4);
  return part;
}

function sha256Of(base: Buffer, u: number): string {
  const hash = createHash('sha256');
  for (let at = 0, k = 0; at < uploadBytes; at += partBytes, k++)
    hash.update(partOf(base, u, k, Math.min(partBytes, uploadBytes - at)));
  return hash.digest('hex');
}

describe.skipIf(skip !== undefined)(
  `a storm of ${uploads} concurrent ${uploadBytes >> 20} MiB uploads`,
  () => {
    let pg: PostgresEngine;
    let rgw: RgwEngine | undefined;
    let root: string;
    let receivers: ReceiverInstance[] = [];
    let lb: FleetBalancer | undefined;

    beforeAll(async () => {
      [pg, rgw] = await Promise.all([startPostgres(), heavy ? undefined : startRgw()]);
      root = mkdtempSync(join(tmpdir(), 'rigcap-storm-'));
    }, 240_000);
    afterAll(async () => {
      await lb?.close();
      for (const r of receivers) await r.stop();
      await Promise.all([pg?.stop(), rgw?.stop()]);
      rmSync(root, { recursive: true, force: true });
    }, 120_000);

    it(`every blob whole; each receiver's RSS under ${rssBoundMb} MiB`, async () => {
      const token = randomBytes(32).toString('base64url');
      const dbUrl = await pg.createDatabase();
      receivers = await startReceivers(2, {
        dir: root,
        args: fleetArgs({
          dir: root,
          dbUrl,
          tokens: [token],
          ...(rgw === undefined
            ? { extra: ['--data', join(root, 'store')] }
            : { blobs: `s3://${rgw.bucket}/storm`, endpoint: rgw.endpoint }),
        }),
        env: rgw?.awsEnv ?? {},
      });
      lb = await startBalancer(receivers.map((r) => r.port));
      const dev = new FakeDevice({ deviceId: 'rig-storm', spoolDir: join(root, 'spool') });
      expect(
        await send(`${lb.url}/v1/records`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'rigcap-enroll-token': token },
          body: dev.enrol(),
        }),
      ).toEqual([201, '']);

      const base = randomBytes(partBytes);
      const digests = Array.from({ length: uploads }, (_, u) => sha256Of(base, u));
      const client = new TusClient({
        baseUrl: lb.url,
        partBytes,
        log: silentLogger(),
        signer: dev.signer,
        idleTimeoutMs: 120_000,
      });
      const started = Date.now();
      try {
        await pool(digests, uploads, async (sha256) => {
          const u = digests.indexOf(sha256);
          const url = await client.create({ length: uploadBytes, sha256, name: `storm-${u}.bin` });
          for (let at = 0, k = 0; at < uploadBytes; k++) {
            at = await client.patch(url, at, partOf(base, u, k, Math.min(partBytes, uploadBytes - at)));
          }
        });
      } finally {
        await client.close();
      }
      const ms = Date.now() - started;
      for (const r of receivers) r.sample();
      const stored = await pool(
        digests,
        8,
        async (sha256) => (await fetch(`${lb!.url}/v1/blobs/sha256/${sha256}`, { method: 'HEAD' })).status,
      );
      expect(stored).toEqual(digests.map(() => 200));
      expect(receivers.every((r) => r.alive())).toBe(true);
      const peaks = receivers.map((r) => Math.round(r.peakRssKb / 1024));
      console.log(
        JSON.stringify({
          fleetStorm: {
            uploads,
            uploadMb: uploadBytes >> 20,
            partMb: partBytes >> 20,
            backend: rgw === undefined ? 'disk' : 'rgw',
            ms,
            mbPerS: Math.round(((uploads * uploadBytes) / 2 ** 20 / ms) * 1000),
            receiverPeakRssMb: peaks,
          },
        }),
      );
      for (const p of peaks) expect(p).toBeLessThan(rssBoundMb);
    }, 1_200_000);
  },
);
