// Spill mode: held frames are blurred as runs of their stream with lookahead, so a face the
// detector missed on a single held frame is still blurred there, filled between its sightings in
// the frames before and after it; the last held frame of a stream waits for no later frame; and a
// stop whose budget runs out with runs still open writes or counts every held frame.
// The worker is a stand-in detector on a still camera (workers/tracking-worker.ts); the per-frame
// deadline is far beyond the test's own timeout, so a frame left waiting would fail the test.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DropCause, Sample } from '../../../drivers/types.ts';
import type { DeidConfig } from '../../../agent/config/types.ts';
import { defaultDeidConfig } from '../../../agent/deid/params.ts';
import { DeidStage } from '../../../agent/deid/stage.ts';
import { silentLogger } from '../../../agent/log.ts';

const workerUrl = new URL('./workers/tracking-worker.ts', import.meta.url);
const config: DeidConfig = {
  ...defaultDeidConfig,
  mode: 'spill',
  workers: 1,
  maxPending: 4,
  timeoutMs: 600_000,
  lookaheadFrames: 3,
};
/** Held frames on which the detector misses the face (each between frames where it finds it). */
const misses = new Set([9, 12, 15]);
const lastSeq = 18;
/** The first frames keep every worker busy a while, the next `maxPending` wait in the pool's queue: the rest are held. */
const firstHeld = 1 + config.workers + config.maxPending;
let dir: string;

/** `busy`: the worker takes that many 10 ms over it. */
function frame(seq: number, busy = 0): Sample {
  return {
    stream: 'front',
    topic: '/front/image',
    seq,
    captureNs: BigInt(seq),
    monoNs: BigInt(seq),
    encoding: 'jpeg',
    schemaRef: 'sensor_msgs/msg/CompressedImage',
    data: new Uint8Array([misses.has(seq) ? 0 : 1, busy]),
  };
}

/** The face boxes the stand-in worker blurred in a frame it wrote. */
function blurredBoxes(sample: Sample): unknown[] {
  const text = Buffer.from(sample.data).toString('utf8');
  expect(text.startsWith('BLURRED')).toBe(true);
  return JSON.parse(text.slice('BLURRED'.length)) as unknown[];
}

/**
 * Starts a spill stage and offers frames 1..lastSeq at once: the first keep the workers busy for
 * a while, the next frames wait in the pool's queue, every later frame is held. Resolves once all
 * are held. `busy`: every frame after the first takes that many 10 ms.
 */
async function holdRun(
  session: string,
  o: { busy?: number } = {},
): Promise<{
  stage: DeidStage;
  delivered: Sample[];
  dropped: DropCause[];
  inline: Promise<unknown>;
}> {
  const stage = new DeidStage({ config, log: silentLogger(), workerUrl });
  await stage.start();
  const delivered: Sample[] = [];
  const dropped: DropCause[] = [];
  await stage.beginHolding({
    spoolDir: dir,
    sessionId: session,
    budgetBytes: 64 * 1024 * 1024,
    deliver: (sample) => {
      delivered.push(sample);
      return Promise.resolve();
    },
    drop: (_stream, cause) => void dropped.push(cause),
  });
  const outcomes = [];
  for (let seq = 1; seq <= lastSeq; seq++)
    outcomes.push(stage.process(frame(seq, seq <= config.workers ? 150 : (o.busy ?? 0))));
  const inline = Promise.all(outcomes.slice(0, firstHeld - 1));
  const held = await Promise.all(outcomes.slice(firstHeld - 1));
  expect(held.every((o) => o.kind === 'held')).toBe(true);
  return { stage, delivered, dropped, inline };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rigcap-deid-lookahead-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('held frames blurred with lookahead (spill)', () => {
  it('fills a face missed on single held frames from both sides, and writes the last held frame without waiting', async () => {
    const { stage, delivered, dropped, inline } = await holdRun('lookahead-drain');
    // Draining at stop: one run of the stream's held frames in capture order, the last sent as the last.
    expect(await stage.finishHolding()).toEqual([]);
    await inline;
    expect(dropped).toEqual([]);
    expect(delivered.map((s) => s.seq).sort((a, b) => a - b)).toEqual(
      Array.from({ length: lastSeq - firstHeld + 1 }, (_, i) => i + firstHeld),
    );
    for (const sample of delivered) expect(blurredBoxes(sample), `frame ${sample.seq}`).toHaveLength(1);
    const lineage = stage.takeLineage();
    expect(lineage.frames).toMatchObject({ in: lastSeq, blurredLate: lastSeq - firstHeld + 1, failed: 0 });
    expect(lineage.filled.face).toBe(misses.size);
    await stage.close();
  }, 60_000);

  it('while capturing, held frames are all written in the background: no frame waits for one that is not held', async () => {
    const { stage, delivered, dropped, inline } = await holdRun('lookahead-idle');
    await inline;
    while (delivered.length + dropped.length < lastSeq - firstHeld + 1)
      await new Promise((r) => setTimeout(r, 20));
    expect(dropped).toEqual([]);
    expect(stage.holding.heldFrames).toBe(0);
    for (const sample of delivered) expect(blurredBoxes(sample).length).toBeLessThanOrEqual(1);
    expect(await stage.finishHolding()).toEqual([]);
    await stage.close();
  }, 60_000);

  it('a stop whose budget runs out while runs are open writes or counts every held frame, and waits for none', async () => {
    // Each held frame takes 100 ms: the background pass has begun runs when the stop gives it 250 ms.
    const { stage, delivered, dropped, inline } = await holdRun('lookahead-stop', { busy: 10 });
    await inline;
    const lost = await stage.finishHolding({ deadlineMs: 250 });
    const held = lastSeq - firstHeld + 1;
    expect(dropped.length).toBeGreaterThan(0);
    expect(dropped.every((cause) => cause === 'deid_held_lost')).toBe(true);
    expect(delivered.length + dropped.length).toBe(held);
    expect(lost).toEqual([
      { stream: 'front', count: dropped.length, startNs: expect.any(BigInt), endNs: BigInt(lastSeq) },
    ]);
    for (const sample of delivered) expect(blurredBoxes(sample).length).toBeLessThanOrEqual(1);
    const lineage = stage.takeLineage();
    expect(lineage.frames).toMatchObject({ in: lastSeq, failed: 0 });
    expect(lineage.frames.blurredLate + lineage.frames.heldLost).toBe(held);
    expect(stage.holding).toMatchObject({ heldFrames: 0, lost: { deid_held_lost: dropped.length } });
    await stage.close();
  }, 60_000);
});
