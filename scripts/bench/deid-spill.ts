// Spill mode under a rig de-id cannot keep up with: two 1080p cameras at 15 fps in real time through
// Capture and the stage as the agent builds them (mode spill, holding area in a scratch spool), then
// the background pass blurs what was held. Measures how fast that pass goes and what was lost.
import type { DropCause, Sample } from '../../drivers/types.ts';
import type { StreamConfig } from '../../agent/config/types.ts';
import type { Logger } from '../../agent/log.ts';
import { Capture } from '../../agent/pipeline/capture.ts';
import { isImageStream } from '../../agent/pipeline/image-streams.ts';
import { StreamLedger } from '../../agent/pipeline/ledger.ts';
import {
  cameraSample,
  ReplayDriver,
  rigConfig,
  startDeidStage,
  transformWindowFor,
} from './deid-pipeline.ts';
import type { SyntheticFrame } from './deid-video.ts';

const fps = 15;

export async function runSpillRig(o: {
  spoolDir: string;
  seconds: number;
  frames: readonly SyntheticFrame[];
  log: Logger;
  progress: (line: string) => void;
  timeoutMs?: number;
}): Promise<{
  catchupFps: number | null;
  framesLost: number;
  received: number;
  details: Record<string, unknown>;
}> {
  const config = rigConfig({
    cameras: 2,
    spoolDir: `${o.spoolDir}/spill`,
    mode: 'spill',
    ...(o.timeoutMs === undefined ? {} : { timeoutMs: o.timeoutMs }),
  });
  const stage = await startDeidStage(config, o.log);
  const ledger = new StreamLedger();
  const streams = config.streams.slice(0, 2);
  const ticks = Math.round(o.seconds * fps);
  const source = (): AsyncGenerator<Sample> =>
    cameraFrames(streams, o.frames, {
      ticks,
      progress: o.progress,
      heldFrames: () => stage.holding.heldFrames,
    });
  const capture = new Capture({
    streams,
    drivers: [new ReplayDriver(source)],
    sink: { write: () => Promise.resolve() },
    ledger,
    log: o.log,
    transformFor: (s) => (isImageStream(s) ? (sample) => stage.process(sample) : undefined),
    transformWindow: transformWindowFor(stage),
  });
  try {
    await stage.beginHolding({
      spoolDir: config.spool.dir,
      sessionId: 'deid-bench',
      budgetBytes: Math.min(config.deid.holdingBytes, config.spool.budgetBytes),
      deliver: (sample) => capture.writeLate(sample),
      drop: (stream, cause) => ledger.drop(stream, cause),
    });
    capture.start();
    await capture.intakeEnded();
    await capture.drain();
    const held = stage.holding.heldFrames;
    const lateBefore = stage.holding.blurredLate;
    o.progress(`deid: spill rig intake done, ${held} frames held; blurring them`);
    const seconds = await finishHeld(stage, o.progress);
    const late = stage.holding.blurredLate - lateBefore;
    const { received, written, drops } = streamTotals(ledger, streams);
    return {
      // Nothing held: the pass had nothing to do, and its speed was not seen.
      catchupFps: seconds > 0 && late > 0 ? late / seconds : null,
      framesLost: received - written,
      received,
      details: {
        heldAtIntakeEnd: held,
        blurredLate: stage.holding.blurredLate,
        blurredInCatchup: late,
        catchupSeconds: Math.round(seconds * 10) / 10,
        maxDelayS: Number(BigInt(stage.holding.maxDelayNs) / 1_000_000n) / 1000,
        drops,
      },
    };
  } finally {
    await stage.close();
  }
}

/**
 * Two cameras' frames on the camera clock (`fps`), taking turns through the frame list; a late event
 * loop gets the frames that are due all at once, as from a socket.
 */
async function* cameraFrames(
  streams: readonly StreamConfig[],
  frames: readonly SyntheticFrame[],
  o: { ticks: number; progress: (line: string) => void; heldFrames: () => number },
): AsyncGenerator<Sample> {
  let tag = 2_000_000;
  const started = performance.now();
  for (let i = 0; i < o.ticks; i++) {
    // Frames are due on the camera's clock; a late event loop gets them all at once, as from a socket.
    const due = started + (i * 1000) / fps;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    for (const [c, stream] of streams.entries()) {
      const f = frames[(i + c * Math.floor(frames.length / 2)) % frames.length]!;
      yield cameraSample({ stream, seq: i, jpeg: f.jpeg, tag: tag++ });
    }
    if ((i + 1) % (fps * 10) === 0)
      o.progress(`deid: spill rig ${Math.round((i + 1) / fps)} s, ${o.heldFrames()} frames held`);
  }
}

/** Samples received and written over the run, and drops by cause, per stream. */
function streamTotals(
  ledger: StreamLedger,
  streams: readonly StreamConfig[],
): { received: number; written: number; drops: Record<string, Partial<Record<DropCause, number>>> } {
  let received = 0;
  let written = 0;
  const drops: Record<string, Partial<Record<DropCause, number>>> = {};
  for (const s of streams) {
    const c = ledger.totals().get(s.name);
    received += c?.received ?? 0;
    written += c?.written ?? 0;
    drops[s.name] = c?.drops ?? {};
  }
  return { received, written, drops };
}

/** The background pass: blurs every held frame, telling progress every 10 s; returns its seconds. */
async function finishHeld(
  stage: Awaited<ReturnType<typeof startDeidStage>>,
  progress: (line: string) => void,
): Promise<number> {
  const started = performance.now();
  let lastProgress = started;
  await stage.finishHolding({
    onProgress: (n) => {
      if (performance.now() - lastProgress > 10_000) {
        lastProgress = performance.now();
        progress(`deid: spill rig background pass, ${n} frames held`);
      }
    },
  });
  return (performance.now() - started) / 1000;
}
