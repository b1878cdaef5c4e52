// `rigcap bench sync`: goodput against the link cap, and parts re-sent per interruption, measured in
// one run over loopback (a real receiver, the fault proxy, real signed chunks), so noise cancels.
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RecordSealer } from '../../agent/keys/index.ts';
import type { Logger } from '../../agent/log.ts';
import { chunkFileName } from '../../agent/records/predicates.ts';
import { FaultProxy } from './fault-proxy.ts';
import { openSyncService } from '../../agent/sync/sync-service.ts';
import { unknownClockSummary } from '../../agent/timesync/index.ts';

export interface BenchFigure {
  name: string;
  value: number;
  unit: string;
  target: number;
  better: 'higher' | 'lower';
}

export interface SyncBenchResult {
  bench: 'sync';
  figures: BenchFigure[];
  details: Record<string, number>;
}

/** Writes `count` chunks of `bytes` random bytes into a fresh spool, sealed by a real device key. */
async function makeSpool(options: {
  root: string;
  deviceId: string;
  count: number;
  bytes: number;
  log: Logger;
}): Promise<void> {
  const spoolDir = join(options.root, options.deviceId);
  const sealer = await RecordSealer.open({
    rootDir: spoolDir,
    keysDir: join(options.root, `${options.deviceId}.keys`),
    signerId: options.deviceId,
    log: options.log,
    keyPolicy: 'create-if-missing',
    bootId: 'bench',
  });
  const sessionId = `bench-${randomBytes(3).toString('hex')}`;
  await sealer.openSession({ sessionId, rigId: 'bench', startNs: BigInt(Date.now()) * 1_000_000n });
  await mkdir(join(spoolDir, 'sessions', sessionId), { recursive: true });
  for (let i = 1; i <= options.count; i++) {
    const data = randomBytes(options.bytes);
    const chunkPath = join(spoolDir, 'sessions', sessionId, chunkFileName(i));
    await writeFile(chunkPath, data);
    const nowNs = BigInt(Date.now()) * 1_000_000n;
    await sealer.sealChunk({
      chunkPath,
      sha256: createHash('sha256').update(data).digest('hex'),
      bytes: options.bytes,
      predicateFields: {
        sessionId,
        chunkIndex: i,
        startNs: nowNs.toString(),
        endNs: nowNs.toString(),
        streams: [{ topic: '/bench', type: 'bytes', count: 1, drops: {}, upstreamLoss: 0 }],
        timesync: unknownClockSummary({ startNs: nowNs, endNs: nowNs }),
        calibration: [],
        transforms: [],
        producer: { rigcapVersion: 'bench', configDigest: 'bench' },
        policy: { residency: 'local', retentionDays: 1, purpose: 'bench' },
      },
    });
  }
  await sealer.close();
}

/** Runs the sync benchmark on loopback and returns its figures. */
export async function benchSync(options: {
  log: Logger;
  capBytesPerSec?: number;
  chunkBytes?: number;
  chunks?: number;
  partBytes?: number;
  interruptions?: number;
}): Promise<SyncBenchResult> {
  const cap = options.capBytesPerSec ?? 8 * 1024 * 1024;
  const chunkBytes = options.chunkBytes ?? 4 * 1024 * 1024;
  const chunks = options.chunks ?? 6;
  const partBytes = options.partBytes ?? 1024 * 1024;
  const interruptions = options.interruptions ?? 4;
  const log = options.log;
  const root = await mkdtemp(join(tmpdir(), 'rigcap-bench-sync-'));
  const { startReceiver } = await import('../../receiver/server.ts');
  const receiver = await startReceiver({
    dataDir: join(root, 'store'),
    host: '127.0.0.1',
    port: 0,
    enrollTokens: ['bench-a', 'bench-b'],
    log,
    maxPartBytes: partBytes,
  });
  const proxy = await FaultProxy.start({
    targetHost: '127.0.0.1',
    targetPort: Number(new URL(receiver.url).port),
  });
  const syncConfig = (token: string, bandwidth: number): Parameters<typeof openSyncService>[0]['sync'] => ({
    enabled: true,
    storeUrl: proxy.url,
    enrollToken: token,
    partBytes,
    bandwidthBytesPerSec: bandwidth,
    concurrency: 2,
    backoffMinMs: 20,
    backoffMaxMs: 200,
    storeKeyFile: '',
    caFile: '',
  });
  try {
    // Phase 1: a clean, capped link; goodput = payload bytes / (cap × elapsed).
    await makeSpool({ root, deviceId: 'bench-a', count: chunks, bytes: chunkBytes, log });
    const clean = openSyncService({ sync: syncConfig('bench-a', cap), spoolDir: join(root, 'bench-a'), log });
    const t0 = process.hrtime.bigint();
    const r1 = await clean.scheduler.drain({ untilMs: Date.now() + 120_000 });
    const elapsedNs = process.hrtime.bigint() - t0;
    await clean.close();
    const payload = chunks * chunkBytes;
    const goodput = payload / ((Number(elapsedNs) / 1e9) * cap);

    // Phase 2: the same volume with connection resets injected mid-part.
    await makeSpool({ root, deviceId: 'bench-b', count: chunks, bytes: chunkBytes, log });
    const faulty = openSyncService({ sync: syncConfig('bench-b', 0), spoolDir: join(root, 'bench-b'), log });
    const firedBefore = proxy.fired;
    let armed = 0;
    const arm = (): void => {
      if (armed < interruptions && !proxy.pending) {
        armed += 1;
        proxy.inject({ kind: 'reset', afterBytes: Math.floor(partBytes * (1.5 + armed)) });
      }
    };
    arm();
    const r2 = await faulty.scheduler.drain({ untilMs: Date.now() + 120_000, onProgress: arm });
    const fired = proxy.fired - firedBefore;
    const resentBytes = faulty.client.stats.bytesSent - payload;
    await faulty.close();
    const resentParts = fired === 0 ? 0 : resentBytes / partBytes / fired;
    return {
      bench: 'sync',
      figures: [
        {
          name: 'goodput_ratio',
          value: Number(goodput.toFixed(4)),
          unit: 'ratio',
          target: 0.95,
          better: 'higher',
        },
        {
          name: 'resent_parts_per_interruption',
          value: Number(resentParts.toFixed(4)),
          unit: 'parts',
          target: 1,
          better: 'lower',
        },
      ],
      details: {
        capBytesPerSec: cap,
        payloadBytes: payload,
        elapsedMs: Number(elapsedNs / 1_000_000n),
        partBytes,
        interruptions: fired,
        resentBytes,
        syncedClean: r1.synced,
        syncedFaulty: r2.synced,
      },
    };
  } finally {
    await proxy.close();
    await receiver.close();
    await rm(root, { recursive: true, force: true });
  }
}
