import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { containment, dilateBox, type DetectionKind, type PixelBox } from '../../../agent/deid/geometry.ts';
import { builtinModelSpecs } from '../../../agent/deid/models.ts';
import { deidParamsFor, defaultDeidConfig } from '../../../agent/deid/params.ts';
import { StreamScan, type StreamScanOptions } from '../../../agent/deid/stream-scan.ts';
import { DeidWorkerPool, type PoolOutcome } from '../../../agent/deid/worker-pool.ts';
import { silentLogger } from '../../../agent/log.ts';
import { decodeRgb, movingClip, wanderingSteps, type MovingFrame } from '../../support/ego-motion.ts';

const params = deidParamsFor(defaultDeidConfig);
const evalDir = new URL('../../fixtures/deid/eval/', import.meta.url);

interface Labels {
  scenes: Array<{
    file: string;
    labels: Array<{ kind: DetectionKind; box: [number, number, number, number] }>;
  }>;
}

/**
 * A camera that zooms, rolls and pans over the empty street for 3 frames, then over the same street
 * with people and plates in it (as if they stepped in) for 5 more: the same camera path throughout.
 */
async function clip(): Promise<MovingFrame[]> {
  const labels = JSON.parse(await readFile(new URL('labels.json', evalDir), 'utf8')) as Labels;
  const scene = labels.scenes.find((s) => s.file === 'street-01.jpg')!;
  const steps = wanderingSteps(7, { seed: 3, scale: 1.5 });
  const empty = await movingClip({
    source: await decodeRgb(new Uint8Array(await readFile(new URL('empty-04.jpg', evalDir)))),
    steps,
  });
  const full = await movingClip({
    source: await decodeRgb(new Uint8Array(await readFile(new URL('street-01.jpg', evalDir)))),
    labels: scene.labels.map((l) => ({
      kind: l.kind,
      box: { x: l.box[0], y: l.box[1], w: l.box[2], h: l.box[3] },
    })),
    steps,
  });
  return [...empty.slice(0, 3), ...full.slice(3)];
}

/** Every frame of one stream submitted at once to a pool of `size` workers. */
async function run(
  size: number,
  frames: readonly MovingFrame[],
  options?: StreamScanOptions,
): Promise<PoolOutcome[]> {
  const pool = new DeidWorkerPool({
    size,
    maxPending: frames.length,
    timeoutMs: 120_000,
    init: { specs: builtinModelSpecs(), params, intraOpThreads: 1 },
    log: silentLogger(),
  });
  await pool.start();
  try {
    const scan = new StreamScan(params, options);
    return await Promise.all(
      frames.map((f, i) =>
        pool.submit({
          encoding: 'jpeg',
          schemaRef: '',
          data: f.jpeg,
          scan,
          lastOfStream: i === frames.length - 1,
        }),
      ),
    );
  } finally {
    await pool.close();
  }
}

/** What a frame's face scan did, and how many boxes it blurred. */
function work(o: PoolOutcome): unknown {
  if (o.kind !== 'done') return o.kind;
  const s = o.faceScan;
  return [
    s?.full,
    s?.tilesScanned,
    s?.verifications,
    s?.plates?.length ?? null,
    s?.platesNear.length,
    o.detections.length,
  ];
}

function blurredShare(box: PixelBox, o: PoolOutcome): number {
  if (o.kind !== 'done') return 0;
  const frame = { width: 1920, height: 1080 };
  return Math.max(
    0,
    ...o.detections.map((d) => containment(box, dilateBox(d.box, params.marginRatio, frame))),
  );
}

describe('a stream from a moving camera', () => {
  it('is scanned in full only on its first frame, and faces that appear mid-stream are blurred at once', async () => {
    const frames = await clip();
    const one = await run(1, frames);
    expect(one.every((o) => o.kind === 'done')).toBe(true);
    expect(one.map((o) => o.kind === 'done' && o.faceScan?.full)).toEqual([true, ...Array(7).fill(false)]);
    for (const [i, f] of frames.entries())
      for (const l of f.labels.filter((l) => l.kind === 'face' && l.box.h >= 32))
        expect(
          blurredShare(l.box, one[i]!),
          `frame ${i} face at ${Math.round(l.box.x)},${Math.round(l.box.y)}`,
        ).toBeGreaterThanOrEqual(0.6);
    // Reuse survives the motion: after the first frame, only the frame where the people appear
    // rescans much more than the sweep's share of tiles.
    const share = one.map((o) => (o.kind === 'done' ? o.faceScan!.tilesScanned / o.faceScan!.tilesTotal : 1));
    expect(
      share.filter((_, i) => i !== 0 && i !== 3).every((s) => s < 0.5),
      share.join(' '),
    ).toBe(true);
    // Two workers do exactly the scans of one.
    const two = await run(2, frames);
    expect(two.map(work)).toEqual(one.map(work));
  }, 180_000);

  it('with lookahead, frames wait for the ones after them and still all come out blurred', async () => {
    const frames = await clip();
    const ahead = await run(2, frames, { lookaheadFrames: 2 });
    expect(ahead.every((o) => o.kind === 'done')).toBe(true);
    for (const [i, f] of frames.entries())
      for (const l of f.labels.filter((l) => l.kind === 'face' && l.box.h >= 32))
        expect(blurredShare(l.box, ahead[i]!)).toBeGreaterThanOrEqual(0.6);
  }, 180_000);
});
