import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { shifted } from '../../support/pan-frame.ts';
import { builtinModelSpecs } from '../../../agent/deid/models.ts';
import { deidParamsFor, defaultDeidConfig } from '../../../agent/deid/params.ts';
import { selfTestImageUrl } from '../../../agent/deid/selftest.ts';
import { StreamScan } from '../../../agent/deid/stream-scan.ts';
import { DeidWorkerPool, type PoolOutcome } from '../../../agent/deid/worker-pool.ts';
import { silentLogger } from '../../../agent/log.ts';

const params = deidParamsFor(defaultDeidConfig);

/** Every frame of one stream submitted at once to a pool of `size` workers. */
async function run(size: number, frames: readonly Uint8Array[]): Promise<PoolOutcome[]> {
  const pool = new DeidWorkerPool({
    size,
    maxPending: frames.length,
    timeoutMs: 60_000,
    init: { specs: builtinModelSpecs(), params, intraOpThreads: 1 },
    log: silentLogger(),
  });
  await pool.start();
  try {
    const scan = new StreamScan(params);
    return await Promise.all(
      frames.map((data) => pool.submit({ encoding: 'jpeg', schemaRef: '', data, scan })),
    );
  } finally {
    await pool.close();
  }
}

/** What a frame's face scan did, and how many boxes it blurred. */
function work(o: PoolOutcome): unknown {
  if (o.kind !== 'done') return o.kind;
  const s = o.faceScan;
  return [s?.full, s?.tilesScanned, s?.verifications, s?.plates?.length ?? null, o.detections.length];
}

describe('one stream on several workers', () => {
  it('scans and blurs each frame as one worker would, frames waiting for the frame before them', async () => {
    const jpeg = new Uint8Array(await readFile(selfTestImageUrl));
    const frames = await Promise.all(Array.from({ length: 8 }, (_, t) => shifted(jpeg, t)));
    const one = await run(1, frames);
    const two = await run(2, frames);
    expect(one.every((o) => o.kind === 'done')).toBe(true);
    // Only the first frame is scanned in full: the second compares with the first even while it is in flight.
    expect(one.map((o) => o.kind === 'done' && o.faceScan?.full)).toEqual([true, ...Array(7).fill(false)]);
    expect(two.map(work)).toEqual(one.map(work));
  }, 60_000);
});
