// The fleet store under faults: two `rigcap receiver` processes on one PostgreSQL and one RGW bucket
// behind one address, simulated devices (the agent's own sync code, each with its own key, token
// and chain) uploading chunks through it, while one receiver is killed with SIGKILL and started
// again, PostgreSQL is restarted and RGW is restarted. Afterwards, checked from outside: every
// chunk is in the bucket once and byte-identical, every record is in the log once, every checkpoint
// a receiver answered during the run is consistent with every other, every receipt a device kept
// verifies against the final log, and no upload started again from zero after the server had
// confirmed an offset. Devices: RIGCAP_CHAOS_DEVICES (default 200).
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresSkipReason, startPostgres, type PostgresEngine } from '../../support/engines/postgres.ts';
import { rgwSkipReason, startRgw, type RgwEngine } from '../../support/engines/rgw.ts';
import {
  checkpointProblems,
  leafOf,
  listBucket,
  logLeaves,
  objectSha256,
  openCheckpoints,
  receiptProblem,
  s3ClientOf,
  spkiOf,
} from '../../support/fleet-checks.ts';
import { pool, SimDevice, UploadWatch } from '../../support/fleet-devices.ts';
import { startBalancer, type FleetBalancer } from '../../support/fleet-lb.ts';
import { fleetArgs, startReceivers, type ReceiverInstance } from '../../support/fleet-rig.ts';
import { heavySkipReason } from '../../support/heavy.ts';
import { delay, waitFor } from '../../support/wait.ts';

const devices = Number(process.env['RIGCAP_CHAOS_DEVICES'] ?? 200);
const chunksEach = 3;
const chunkBytes = 160 * 1024;
const partBytes = 64 * 1024;
const lanes = 40;
const skip = heavySkipReason ?? postgresSkipReason ?? rgwSkipReason;

describe.skipIf(skip !== undefined)(
  'the fleet store under kill -9, a PostgreSQL restart and an RGW restart',
  () => {
    let pg: PostgresEngine;
    let rgw: RgwEngine;
    let root: string;
    let dbUrl: string;
    let receivers: ReceiverInstance[] = [];
    let lb: FleetBalancer | undefined;
    const sims: SimDevice[] = [];

    beforeAll(async () => {
      [pg, rgw] = await Promise.all([startPostgres(), startRgw()]);
      root = mkdtempSync(join(tmpdir(), 'rigcap-chaos-'));
      dbUrl = await pg.createDatabase();
    }, 240_000);
    afterAll(async () => {
      await lb?.close();
      for (const r of receivers) await r.stop();
      for (const d of sims) await d.close();
      await Promise.all([pg?.stop(), rgw?.stop()]);
      if (process.env['RIGCAP_KEEP_CHAOS'] === '1') console.log(`kept ${root}`);
      else rmSync(root, { recursive: true, force: true });
    }, 120_000);

    it(`${devices} devices × ${chunksEach} chunks: exactly once, byte-identical, one consistent log, every receipt valid`, async () => {
      const tokens = Array.from({ length: devices }, () => randomBytes(32).toString('base64url'));
      const blobs = `s3://${rgw.bucket}/chaos`;
      receivers = await startReceivers(2, {
        dir: root,
        args: fleetArgs({ dir: root, dbUrl, blobs, endpoint: rgw.endpoint, tokens }),
        env: rgw.awsEnv,
      });
      lb = await startBalancer(receivers.map((r) => r.port));
      const store = (await (await fetch(`${lb.url}/v1/store`)).json()) as {
        storeId: string;
        publicKeyPem: string;
      };

      const watch = new UploadWatch();
      for (let i = 0; i < devices; i++) {
        sims.push(
          new SimDevice({
            id: `rig-${String(i).padStart(4, '0')}`,
            dir: join(root, 'devices'),
            baseUrl: lb.url,
            token: tokens[i]!,
            chunks: chunksEach,
            chunkBytes,
            partBytes,
            watch,
          }),
        );
      }
      const total = sims.reduce((n, d) => n + d.sent.length, 0);
      const synced = (): number => sims.reduce((n, d) => n + d.synced(), 0);

      // Every checkpoint either receiver answers during the run, straight from each instance.
      const notes = new Set<string>();
      let polling = true;
      const poller = (async () => {
        while (polling) {
          for (const r of receivers) {
            const res = await fetch(`${r.url}/v1/log/checkpoint`).catch(() => undefined);
            if (res?.status === 200) notes.add(await res.text());
          }
          await delay(200);
        }
      })();

      const started = Date.now();
      const deadline = started + 270_000;
      const run = pool(sims, lanes, (d) => d.sync(deadline));
      const events: Array<{ what: string; atSynced: number; ms: number }> = [];
      const at = async (fraction: number, what: string, act: () => Promise<void>): Promise<void> => {
        await waitFor(() => synced() >= total * fraction, {
          timeoutMs: 240_000,
          what: `${fraction * 100}% synced`,
          detail: () =>
            `${synced()} of ${total} synced; ${sims
              .flatMap((d) => d.lastErrors())
              .slice(0, 6)
              .join('; ')}`,
        });
        const atSynced = synced();
        const t0 = Date.now();
        await act();
        events.push({ what, atSynced, ms: Date.now() - t0 });
      };
      await at(0.1, 'kill -9 receiver 0, start it again', async () => {
        await receivers[0]!.kill9();
        await delay(1_000);
        await receivers[0]!.start();
      });
      await at(0.35, 'restart PostgreSQL', () => pg.restart());
      await at(0.6, 'restart RGW', () => rgw.restart());
      const done = await run;
      const runMs = Date.now() - started;
      polling = false;
      await poller;

      const pendingLeft = sims
        .filter((_, i) => done[i] !== true)
        .flatMap((d) => d.lastErrors().map((e) => `${e} (${Math.round(runMs / 1000)} s into the run)`));
      expect(pendingLeft).toEqual([]);
      expect(sims.flatMap((d) => d.lastErrors())).toEqual([]);
      // Each fault struck while records were still on their way.
      for (const e of events) expect(e.atSynced, e.what).toBeLessThan(total);
      expect(receivers.every((r) => r.alive())).toBe(true);

      // Chunks: each once under blobs/, byte-identical; no finished or half upload left beside them.
      const s3 = s3ClientOf(rgw.endpoint, rgw.awsEnv);
      const objects = await listBucket(s3, rgw.bucket, 'chaos/');
      const chunks = sims.flatMap((d) => d.sent.flatMap((r) => (r.chunk === undefined ? [] : [r.chunk])));
      const blobKeys = [...objects.keys()].filter((k) => k.startsWith('chaos/blobs/'));
      expect(blobKeys.sort()).toEqual(chunks.map((c) => `chaos/blobs/sha256/${c.sha256}`).sort());
      const damaged = (
        await pool(chunks, 8, async (c) => {
          const key = `chaos/blobs/sha256/${c.sha256}`;
          return objects.get(key) === c.bytes && (await objectSha256(s3, rgw.bucket, key)) === c.sha256
            ? []
            : [key];
        })
      ).flat();
      expect(damaged).toEqual([]);
      const others = [...objects.keys()].filter((k) => !k.startsWith('chaos/blobs/'));
      const kinds = new Map<string, number>();
      for (const k of others) kinds.set(k.split('/')[1] ?? k, (kinds.get(k.split('/')[1] ?? k) ?? 0) + 1);
      // A receiver killed (or a bucket restarted) between a finished upload's copy to blobs/ and the
      // upload's deletion leaves the upload object behind: garbage, never a second version of a
      // chunk. Each such object must hold exactly the bytes of a stored chunk.
      const leftovers = others.filter((k) => /^chaos\/uploads\/[0-9a-f]{32}$/.test(k));
      const shas = new Set(chunks.map((c) => c.sha256));
      for (const k of leftovers) expect(shas.has(await objectSha256(s3, rgw.bucket, k)), k).toBe(true);
      s3.destroy();

      // The log: every record sent is one leaf, exactly once.
      const leaves = await logLeaves(dbUrl);
      const counts = new Map<string, number>();
      for (const l of leaves) counts.set(l.toString('hex'), (counts.get(l.toString('hex')) ?? 0) + 1);
      const sent = sims.flatMap((d) => d.sent);
      const notOnce = sent.filter((r) => counts.get(leafOf(r.bytes).toString('hex')) !== 1);
      expect(
        notOnce.map((r) => `${r.signerId}/${r.seq}: ${counts.get(leafOf(r.bytes).toString('hex')) ?? 0}`),
      ).toEqual([]);

      // Checkpoints seen from both instances: one history, proven by the receivers' consistency proofs.
      const cps = openCheckpoints(notes, store);
      const proofOf = async (first: number, second: number): Promise<string[]> => {
        const res = await fetch(`${receivers[1]!.url}/v1/log/consistency?first=${first}&second=${second}`);
        return ((await res.json()) as { proof: string[] }).proof;
      };
      expect(await checkpointProblems(cps, leaves, proofOf)).toEqual([]);

      // Receipts the devices kept.
      const spki = spkiOf(store.publicKeyPem);
      const bad = sims.flatMap((d) =>
        d.sent.flatMap((r) => {
          const problem = receiptProblem(r, d.ledger.get(r.signerId, r.seq)?.receiptJson, {
            storeId: store.storeId,
            spki,
            leaves,
          });
          return problem === undefined ? [] : [problem];
        }),
      );
      expect(bad).toEqual([]);
      expect(watch.restartsFromZero).toEqual([]);

      for (const r of receivers) r.sample();
      console.log(
        JSON.stringify({
          fleetChaos: {
            devices,
            records: total,
            chunks: chunks.length,
            chunkBytes,
            runMs,
            recordsPerS: Math.round((total / runMs) * 1000),
            events,
            logSize: leaves.length,
            checkpointsSeen: cps.length,
            otherObjects: Object.fromEntries(kinds),
            finishedUploadsLeft: leftovers.length,
            uploads: { creates: watch.creates, patches: watch.patches, resumedAtOffset: watch.resumes },
            balancer: Object.fromEntries(lb.connections),
            receiverPeakRssMb: receivers.map((r) => Math.round(r.peakRssKb / 1024)),
            receiverStarts: receivers.map((r) => r.starts),
          },
        }),
      );
    }, 600_000);
  },
);
