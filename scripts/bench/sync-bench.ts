// `rigcap bench sync`: sync goodput over a shaped link, and parts re-sent per interruption. The
// link is made in a private network namespace (`unshare -n`): the kernel limits the upload to
// 20 Mbit/s (tbf on loopback, only traffic towards the link's port), and the fault proxy adds
// 80 ms RTT plus occasional connection resets and stalls. Sync runs with the config defaults
// (8 MiB parts, two uploads at once, backoff from 500 ms, no bandwidth cap of its own) against a
// real receiver; the goodput counts only when every chunk was stored and receipted.
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RecordSealer } from '../../agent/keys/index.ts';
import type { Logger } from '../../agent/log.ts';
import { chunkFileName } from '../../agent/records/predicates.ts';
import { openSyncService } from '../../agent/sync/sync-service.ts';
import { unknownClockSummary } from '../../agent/timesync/index.ts';
import { FaultProxy, type Fault } from './fault-proxy.ts';
import { round, type BenchReport } from './figures.ts';
import { run, shapeLoopback, shapedBytes, shapedLinkUnavailable, unshareArgs } from './shaped-link.ts';

export { shapedLinkUnavailable } from './shaped-link.ts';

/** What the bench runs; every field has the default the README's figures use. */
export interface SyncBenchOptions {
  /** Link rate set with tc, bits per second (default 20 Mbit/s). */
  rateBitsPerSec: number;
  /** One-way delay the proxy adds (default 40 ms: 80 ms RTT). */
  delayMs: number;
  chunks: number;
  chunkBytes: number;
  /** sync.partBytes (default: the config default, 8 MiB). */
  partBytes: number;
  /** Interruptions spread over the upload, alternating reset and stall. */
  interruptions: number;
  /** How long a stalled connection hangs before it drops. */
  stallMs: number;
  /** Give up (and fail the figure) after this long. */
  timeoutMs: number;
}

export const defaultSyncBenchOptions: SyncBenchOptions = {
  rateBitsPerSec: 20_000_000,
  delayMs: 40,
  chunks: 4,
  chunkBytes: 32 * 1024 * 1024,
  partBytes: 8 * 1024 * 1024,
  interruptions: 3,
  stallMs: 3000,
  timeoutMs: 150_000,
};

/** What one run inside the namespace measured. */
export interface ShapedSyncResult {
  payloadBytes: number;
  elapsedMs: number;
  rateBytesPerSec: number;
  chunks: number;
  /** Chunks the store holds and receipted. */
  receipted: number;
  interruptions: number;
  bytesSent: number;
  partBytes: number;
  /** Bytes the tbf qdisc let through (the shaped direction), from `tc -s`. */
  shapedBytes: number | null;
}

/** Writes `count` chunks of random bytes into a fresh spool, sealed by a real device key; returns their record seqs. */
async function makeSpool(options: {
  spoolDir: string;
  keysDir: string;
  deviceId: string;
  count: number;
  bytes: number;
  log: Logger;
}): Promise<number[]> {
  const sealer = await RecordSealer.open({
    rootDir: options.spoolDir,
    keysDir: options.keysDir,
    signerId: options.deviceId,
    log: options.log,
    keyPolicy: 'create-if-missing',
    bootId: 'bench',
  });
  const sessionId = `bench-${randomBytes(3).toString('hex')}`;
  await sealer.openSession({ sessionId, rigId: 'bench', startNs: BigInt(Date.now()) * 1_000_000n });
  await mkdir(join(options.spoolDir, 'sessions', sessionId), { recursive: true });
  const seqs: number[] = [];
  for (let i = 1; i <= options.count; i++) {
    const data = randomBytes(options.bytes);
    const chunkPath = join(options.spoolDir, 'sessions', sessionId, chunkFileName(i));
    await writeFile(chunkPath, data);
    const nowNs = BigInt(Date.now()) * 1_000_000n;
    const sealed = await sealer.sealChunk({
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
    seqs.push(sealed.seq);
  }
  await sealer.close();
  return seqs;
}

/** Sync settings of the bench: the store behind the fault proxy, no bandwidth cap of its own. */
function benchSyncConfig(storeUrl: string, partBytes: number): Parameters<typeof openSyncService>[0]['sync'] {
  return {
    enabled: true,
    storeUrl,
    enrollToken: 'bench-token-0123456789',
    partBytes,
    bandwidthBytesPerSec: 0,
    concurrency: 2,
    backoffMinMs: 500,
    backoffMaxMs: 60_000,
    storeKeyFile: '',
    storeKey: '',
    // Its own store on loopback, pinned on first use (explicitly).
    trustOnFirstUse: true,
    caFile: '',
  };
}

/** Injects `count` faults one after another (reset, stall, reset, …), each `gapBytes` into the stream. */
function armInterruptions(
  proxy: FaultProxy,
  o: { count: number; gapBytes: number; stallMs: number },
): NodeJS.Timeout {
  let armed = 0;
  const arm = (): void => {
    if (armed >= o.count || proxy.pending) return;
    const fault: Fault =
      armed % 2 === 0
        ? { kind: 'reset', afterBytes: o.gapBytes }
        : { kind: 'stall', afterBytes: o.gapBytes, ms: o.stallMs };
    armed += 1;
    proxy.inject(fault);
  };
  arm();
  return setInterval(arm, 50);
}

/** The run itself; call only inside a private network namespace (it reconfigures loopback). */
export async function runShapedSync(options: SyncBenchOptions, log: Logger): Promise<ShapedSyncResult> {
  run('ip', ['link', 'set', 'lo', 'up']);
  const root = await mkdtemp(join(tmpdir(), 'rigcap-bench-sync-'));
  const { startReceiver } = await import('../../receiver/server.ts');
  const receiver = await startReceiver({
    dataDir: join(root, 'store'),
    host: '127.0.0.1',
    port: 0,
    enrollTokens: ['bench-token-0123456789'],
    log,
  });
  const proxy = await FaultProxy.start({
    targetHost: '127.0.0.1',
    targetPort: Number(new URL(receiver.url).port),
    delayMs: options.delayMs,
  });
  try {
    shapeLoopback(proxy.port, options.rateBitsPerSec);
    const deviceId = 'bench-device';
    const spoolDir = join(root, 'spool');
    const seqs = await makeSpool({
      spoolDir,
      keysDir: join(root, 'secrets'),
      deviceId,
      count: options.chunks,
      bytes: options.chunkBytes,
      log,
    });
    const payload = options.chunks * options.chunkBytes;
    const service = openSyncService({ sync: benchSyncConfig(proxy.url, options.partBytes), spoolDir, log });
    // Interruptions spread evenly over the payload: each is armed when the one before it fired.
    const rearm = armInterruptions(proxy, {
      count: options.interruptions,
      gapBytes: Math.floor(payload / (options.interruptions + 1)),
      stallMs: options.stallMs,
    });
    const firedBefore = proxy.fired;
    const t0 = process.hrtime.bigint();
    try {
      await service.scheduler.drain({
        untilMs: Date.now() + options.timeoutMs,
        signal: AbortSignal.timeout(options.timeoutMs),
      });
    } finally {
      clearInterval(rearm);
    }
    const elapsedMs = Number(process.hrtime.bigint() - t0) / 1e6;
    const receipted = seqs.filter((seq) => {
      const item = service.state.get(deviceId, seq);
      return item?.state === 'synced' && item.receiptJson !== null;
    }).length;
    const bytesSent = service.client.stats.bytesSent;
    await service.close();
    return {
      payloadBytes: payload,
      elapsedMs,
      rateBytesPerSec: options.rateBitsPerSec / 8,
      chunks: options.chunks,
      receipted,
      interruptions: proxy.fired - firedBefore,
      bytesSent,
      partBytes: options.partBytes,
      shapedBytes: shapedBytes(),
    };
  } finally {
    await proxy.close();
    await receiver.close();
    await rm(root, { recursive: true, force: true });
  }
}

const childEntry = fileURLToPath(new URL('./sync-netns.ts', import.meta.url));

/** `rigcap bench sync`: runs the bench in a private network namespace and reports its figures. */
export async function syncReport(
  options: { log: Logger; env?: NodeJS.ProcessEnv } & Partial<SyncBenchOptions>,
): Promise<BenchReport> {
  const { log: _log, env = process.env, ...overrides } = options;
  const settings: SyncBenchOptions = { ...defaultSyncBenchOptions, ...overrides };
  const unavailable = shapedLinkUnavailable(env);
  if (unavailable !== undefined) {
    return { bench: 'sync', figures: [], details: { unavailable } };
  }
  const result = await new Promise<ShapedSyncResult>((resolve, reject) => {
    const child = spawn(
      'unshare',
      [...unshareArgs(), process.execPath, childEntry, JSON.stringify(settings)],
      { stdio: ['ignore', 'pipe', 'pipe'], env },
    );
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    const timer = setTimeout(() => child.kill('SIGKILL'), settings.timeoutMs + 60_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      const text = Buffer.concat(out).toString('utf8');
      if (code !== 0) {
        reject(
          new Error(
            `bench sync: the namespaced run exited ${code}: ${Buffer.concat(err).toString('utf8').trim()}`,
          ),
        );
        return;
      }
      try {
        resolve(JSON.parse(text) as ShapedSyncResult);
      } catch (e) {
        reject(
          new Error(`bench sync: unreadable result ${JSON.stringify(text.slice(0, 200))}`, { cause: e }),
        );
      }
    });
  });
  return syncFigures(result);
}

/** Figures from one run; both fail unless every chunk was receipted. */
export function syncFigures(r: ShapedSyncResult): BenchReport {
  const complete = r.receipted === r.chunks;
  const failed = complete
    ? undefined
    : `${r.chunks - r.receipted} of ${r.chunks} chunks not synced and receipted`;
  const goodput = r.payloadBytes / ((r.elapsedMs / 1000) * r.rateBytesPerSec);
  const resentParts =
    r.interruptions === 0 ? 0 : (r.bytesSent - r.payloadBytes) / r.partBytes / r.interruptions;
  return {
    bench: 'sync',
    figures: [
      {
        name: 'goodput_ratio',
        value: complete ? round(goodput, 4) : 0,
        unit: 'ratio',
        target: 0.95,
        better: 'higher',
        ...(failed === undefined ? {} : { failed }),
      },
      {
        name: 'resent_parts_per_interruption',
        value: round(resentParts, 4),
        unit: 'parts',
        target: 1,
        better: 'lower',
        ...(failed === undefined ? {} : { failed }),
      },
    ],
    details: {
      linkMbitPerSec: r.rateBytesPerSec * 8e-6,
      payloadMiB: round(r.payloadBytes / (1024 * 1024), 1),
      elapsedS: round(r.elapsedMs / 1000, 1),
      chunks: r.chunks,
      receipted: r.receipted,
      partMiB: round(r.partBytes / (1024 * 1024), 2),
      interruptions: r.interruptions,
      resentMiB: round((r.bytesSent - r.payloadBytes) / (1024 * 1024), 2),
      shapedLinkMbitPerSec:
        r.shapedBytes === null ? null : round((r.shapedBytes * 8) / (r.elapsedMs / 1000) / 1e6, 2),
    },
  };
}
