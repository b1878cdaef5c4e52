// The production de-id path for the bench: the config the agent loads (defaults, camera streams as
// a ROS 2 rig sends them), the DeidStage it builds, and Capture with the agent's in-flight window,
// fed by a replay driver and writing into a sink that only counts. The one difference from the
// agent: the worker entry is deid-tap-worker.ts, the production worker plus a copy of each frame's
// detections for scoring.
import { BroadcastChannel } from 'node:worker_threads';
import type { Driver, DriverStats, Sample, StreamSchema } from '../../drivers/types.ts';
import { parseConfig } from '../../agent/config/load.ts';
import type { RigcapConfig, StreamConfig } from '../../agent/config/types.ts';
import type { Detection } from '../../agent/deid/geometry.ts';
import { compressedImageType } from '../../agent/deid/image-codec.ts';
import { DeidStage } from '../../agent/deid/stage.ts';
import type { Logger } from '../../agent/log.ts';
import { Capture } from '../../agent/pipeline/capture.ts';
import { isImageStream } from '../../agent/pipeline/image-streams.ts';
import { StreamLedger } from '../../agent/pipeline/ledger.ts';
import { compressedImageMessage, encodeCdr } from '../sim-rig/messages.ts';
import { tagJpeg, tapChannelName, type TapReport } from './deid-tap-worker.ts';

export const tapWorkerUrl = new URL('./deid-tap-worker.ts', import.meta.url);

/**
 * The config the agent would load for a rig of `cameras` compressed-image cameras, everything else
 * default (`deid.workers` 0 = one per core) but `deid.mode` when given.
 */
export function rigConfig(o: {
  cameras: number;
  /** Scratch folder: spool/ and secrets/ go in it. */
  spoolDir: string;
  mode?: 'inline' | 'spill';
  /** deid.timeoutMs other than the default (tests on a loaded machine). */
  timeoutMs?: number;
}): RigcapConfig {
  const streams = Array.from(
    { length: o.cameras },
    (_, i) => `  - name: camera_${i}
    driver: zmq
    endpoint: tcp://127.0.0.1:5555
    socket: sub
    topic: /camera_${i}/image/compressed
    type: ${compressedImageType}
    encoding: cdr
    maxMessageBytes: 8MiB
`,
  ).join('');
  const deid = [
    ...(o.mode === undefined ? [] : [`  mode: ${o.mode}`]),
    ...(o.timeoutMs === undefined ? [] : [`  timeoutMs: ${o.timeoutMs}`]),
  ];
  const mode = deid.length > 0 ? `deid:\n${deid.join('\n')}\n` : '';
  const text = `version: 1\nrig:\n  id: deid-bench\nspool:\n  dir: ${JSON.stringify(`${o.spoolDir}/spool`)}\nkeys:\n  dir: ${JSON.stringify(`${o.spoolDir}/secrets`)}\nstreams:\n${streams}${mode}`;
  return parseConfig(text, { baseDir: o.spoolDir }).config;
}

/** A camera frame as a ROS 2 camera publishes it: sensor_msgs/CompressedImage in CDR around the JPEG. */
export function cameraSample(o: {
  stream: StreamConfig;
  seq: number;
  jpeg: Uint8Array;
  tag: number;
}): Sample {
  const captureNs = BigInt(Date.now()) * 1_000_000n;
  return {
    stream: o.stream.name,
    topic: o.stream.topic,
    seq: o.seq,
    captureNs,
    monoNs: process.hrtime.bigint(),
    encoding: 'cdr',
    schemaRef: compressedImageType,
    data: encodeCdr(
      compressedImageType,
      compressedImageMessage({ captureNs, frameId: o.stream.name, jpeg: tagJpeg(o.jpeg, o.tag) }),
    ),
  };
}

/** A driver that yields prepared samples when `next` lets it (paced by the pipeline or by a clock). */
export class ReplayDriver implements Driver {
  readonly name = 'deid-bench-replay';
  readonly #source: () => AsyncIterable<Sample>;
  constructor(source: () => AsyncIterable<Sample>) {
    this.#source = source;
  }
  open(): Promise<void> {
    return Promise.resolve();
  }
  samples(): AsyncIterable<Sample> {
    return this.#source();
  }
  schemas(): ReadonlyMap<string, StreamSchema> {
    return new Map();
  }
  onDrop(): void {}
  stats(): DriverStats {
    return { streams: {} };
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
  destroy(): void {}
}

/** Collects the tap's reports by frame tag. */
export class TapListener {
  readonly reports = new Map<number, TapReport>();
  readonly #channel = new BroadcastChannel(tapChannelName);
  #waiting: { tags: readonly number[]; resolve: () => void } | undefined;

  constructor() {
    this.#channel.onmessage = (event) => {
      const report = (event as { data: TapReport }).data;
      this.reports.set(report.tag, report);
      const w = this.#waiting;
      if (w !== undefined && w.tags.every((t) => this.reports.has(t))) {
        this.#waiting = undefined;
        w.resolve();
      }
    };
  }

  /** Resolves once every tag has reported, or after `timeoutMs`. */
  async waitFor(tags: readonly number[], timeoutMs: number): Promise<void> {
    if (tags.every((t) => this.reports.has(t))) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      this.#waiting = {
        tags,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
    });
  }

  detections(tag: number): readonly Detection[] | undefined {
    return this.reports.get(tag)?.detections;
  }

  close(): void {
    this.#channel.close();
  }
}

/** The in-flight window the agent gives Capture for this stage (agent.ts: `transformWindow`). */
export function transformWindowFor(stage: DeidStage): number {
  return stage.window;
}

export function startDeidStage(config: RigcapConfig, log: Logger): Promise<DeidStage> {
  const stage = new DeidStage({ config: config.deid, log, workerUrl: tapWorkerUrl });
  return stage.start().then(() => stage);
}

/** Workers the stage runs (deid.workers, 0 = one per core). */
export function stageWorkers(stage: DeidStage): number {
  return stage.status().workers;
}

/**
 * One stream through Capture and the stage as fast as they take it: the driver keeps two frames
 * queued (a camera faster than de-id, with nothing dropped), so the pipeline never waits for input.
 * Times from when the first `warmFrames` are written to the last write.
 */
export async function runInline(o: {
  stage: DeidStage;
  config: RigcapConfig;
  stream: StreamConfig;
  frames: readonly Uint8Array[];
  firstTag: number;
  warmFrames: number;
  log: Logger;
  onWritten?: (n: number) => void;
}): Promise<{ fps: number; written: number; dropped: number }> {
  const ledger = new StreamLedger();
  let written = 0;
  let warmAt = 0;
  let lastAt = 0;
  let startedAt = 0;
  const source = async function* (): AsyncGenerator<Sample> {
    startedAt = performance.now();
    for (const [i, jpeg] of o.frames.entries()) {
      while (capture.queueDepth(o.stream.name) >= 2) await new Promise((r) => setTimeout(r, 2));
      yield cameraSample({ stream: o.stream, seq: i, jpeg, tag: o.firstTag + i });
    }
  };
  // The driver asks the queue depth only once Capture runs it, after this line.
  const capture: Capture = new Capture({
    streams: [o.stream],
    drivers: [new ReplayDriver(source)],
    sink: {
      write: () => {
        written++;
        lastAt = performance.now();
        if (written === o.warmFrames) warmAt = lastAt;
        o.onWritten?.(written);
        return Promise.resolve();
      },
    },
    ledger,
    log: o.log,
    transformFor: (s) => (isImageStream(s) ? (sample) => o.stage.process(sample) : undefined),
    transformWindow: transformWindowFor(o.stage),
  });
  capture.start();
  await capture.intakeEnded();
  await capture.drain();
  const counts = ledger.totals().get(o.stream.name);
  const dropped = Object.values(counts?.drops ?? {}).reduce((a, b) => a + b, 0);
  const timed = written - o.warmFrames;
  // Too short a run to leave the warm-up out (tests): time it all from the first frame in.
  const fps =
    timed >= 2 && lastAt > warmAt
      ? (timed * 1000) / (lastAt - warmAt)
      : (written * 1000) / Math.max(1, lastAt - startedAt);
  return { fps, written, dropped };
}
