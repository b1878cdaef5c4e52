// The capture and sign benches as `rigcap bench` reports them: figures with targets, and details.
// Sizes are options so tests run them small; the defaults are what the README's figures use.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChunkingConfig } from '../../agent/config/types.ts';
import type { Logger } from '../../agent/log.ts';
import { benchCaptureThroughput, type CaptureThroughputResult } from './capture-bench.ts';
import { round, type BenchReport } from './figures.ts';
import { benchMsgRate } from './msgrate-bench.ts';
import { cameraFrames, lidarScans } from './payloads.ts';
import { benchSignRig } from './sign-bench.ts';

const mib = 1024 * 1024;

export interface CaptureReportOptions {
  log: Logger;
  /** Frames per throughput run (default 300: a 256 MiB chunk closed by size, one more at stop). */
  frames?: number;
  frameBytes?: number;
  /** Paired rounds per figure (default 3). */
  pairs?: number;
  /** Messages per msgrate run (default 280 000 of 1 KiB: one commit by size, one at stop). */
  messages?: number;
  /** File size limit for every run (tests); the schema default otherwise. */
  chunkBytes?: number;
}

function throughputDetails(r: CaptureThroughputResult): Record<string, unknown> {
  return {
    pairRatios: r.ratios.map((x) => round(x)),
    agentMiBPerSec: r.agentBytesPerSec.map((x) => round(x / mib, 1)),
    rawMiBPerSec: r.rawBytesPerSec.map((x) => round(x / mib, 1)),
    chunksPerRun: r.agentChunks,
    frameBytes: Math.round(r.frameBytes),
  };
}

/** `rigcap bench capture`: throughput for camera-like and lidar-like 1 MiB frames, and msg rate. */
export async function captureReport(options: CaptureReportOptions): Promise<BenchReport> {
  const frameBytes = options.frameBytes ?? mib;
  const frames = options.frames ?? 300;
  const pairs = options.pairs ?? 3;
  const common = {
    frames,
    pairs,
    log: options.log,
    ...(options.chunkBytes === undefined ? {} : { chunkBytes: options.chunkBytes }),
  };
  const camera = await benchCaptureThroughput({
    ...common,
    dir: await mkdtemp(join(tmpdir(), 'rigcap-bench-capture-')),
    payload: await cameraFrames({ frameBytes, count: 4 }),
  });
  const lidar = await benchCaptureThroughput({
    ...common,
    dir: await mkdtemp(join(tmpdir(), 'rigcap-bench-capture-')),
    payload: lidarScans({ frameBytes, count: 8 }),
  });
  const msgrate = await benchMsgRate({
    messages: options.messages ?? 280_000,
    payloadBytes: 1024,
    pairs,
    log: options.log,
    ...(options.chunkBytes === undefined ? {} : { chunkBytes: options.chunkBytes }),
  });
  return {
    bench: 'capture',
    figures: [
      {
        name: 'throughput_1mib_ratio',
        value: round(camera.ratio),
        unit: 'ratio',
        target: 0.9,
        better: 'higher',
      },
      {
        name: 'throughput_1mib_compressible_ratio',
        value: round(lidar.ratio),
        unit: 'ratio',
        target: 0.9,
        better: 'higher',
      },
      {
        name: 'msgrate_1kib_ratio',
        value: round(msgrate.ratio),
        unit: 'ratio',
        target: 0.7,
        better: 'higher',
      },
    ],
    details: {
      camera: throughputDetails(camera),
      lidar: throughputDetails(lidar),
      msgrate: {
        pairRatios: msgrate.ratios.map((x) => round(x)),
        agentMsgPerSec: msgrate.agentMsgPerSec.map((x) => Math.round(x)),
        rawMsgPerSec: msgrate.rawMsgPerSec.map((x) => Math.round(x)),
        chunksPerRun: msgrate.agentChunks,
        messages: msgrate.messages,
      },
    },
  };
}

/** `rigcap bench sign`: sign CPU share at the default chunk limits for the camera and IMU+GNSS rigs. */
export async function signReport(options: {
  log: Logger;
  records?: number;
  chunking?: ChunkingConfig;
}): Promise<BenchReport> {
  const common = {
    log: options.log,
    ...(options.records === undefined ? {} : { records: options.records }),
    ...(options.chunking === undefined ? {} : { chunking: options.chunking }),
  };
  const camera = await benchSignRig({ rig: 'camera', ...common });
  const imu = await benchSignRig({ rig: 'imu-gnss', ...common });
  const detail = (r: typeof camera): Record<string, unknown> => ({
    chunkMiB: round(r.chunk.bytes / mib, 2),
    chunkSeconds: round(r.chunk.seconds, 1),
    closedBy: r.chunk.reason,
    messages: r.chunk.messages,
    captureCpuMsPerChunk: round(r.chunk.cpuUs / 1000, 1),
    signCpuMsPerRecord: round(r.signCpuUsPerRecord / 1000, 2),
  });
  const figure = (name: string, share: number): BenchReport['figures'][number] => ({
    name,
    value: round(share, 4),
    unit: 'ratio',
    target: 0.01,
    better: 'lower',
  });
  return {
    bench: 'sign',
    figures: [
      figure('sign_cpu_share', Math.max(camera.share, imu.share)),
      figure('sign_cpu_share_camera_rig', camera.share),
      figure('sign_cpu_share_imu_gnss_rig', imu.share),
    ],
    details: { cameraRig: detail(camera), imuGnssRig: detail(imu) },
  };
}
