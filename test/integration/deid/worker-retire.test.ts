// A frame that runs past its deadline, or a pool destroyed mid-frame, must never take the process
// down: the busy worker is inside onnxruntime, and a worker terminated there aborts the process
// ("terminate called after throwing an instance of 'Napi::Error'") when the run returns.
// Real models and the real worker; if the process aborted, this file's test process would die.
import { describe, expect, it } from 'vitest';
import type { FaceScanContext, FaceScanPlan } from '../../../agent/deid/face-scan.ts';
import { builtinModelSpecs } from '../../../agent/deid/models.ts';
import { defaultDeidConfig, deidParamsFor } from '../../../agent/deid/params.ts';
import { readSelfTestImage } from '../../../agent/deid/selftest.ts';
import type { FrameScan } from '../../../agent/deid/stream-scan.ts';
import { DeidWorkerPool, type PoolJob, type PoolOutcome } from '../../../agent/deid/worker-pool.ts';
import { silentLogger } from '../../../agent/log.ts';

const init = { specs: builtinModelSpecs(), params: deidParamsFor(defaultDeidConfig), intraOpThreads: 1 };

/** A one-frame stream whose hooks tell the test where the worker is. */
function frameScan(hooks: { signature?: () => void }): PoolJob['scan'] {
  // No reference frame to ask for: after its thumbnail the worker goes straight into the inference.
  const context: FaceScanContext = { frame: -1, tracks: [], verdicts: [], plates: { run: true, tracks: [] } };
  const plan: FaceScanPlan = { sweep: { phase: 0, of: 1 }, reference: null, runPlates: true, context };
  const frame: FrameScan = {
    plan,
    signature: () => hooks.signature?.(),
    reference: () => Promise.resolve(null),
    context: () => Promise.resolve(context),
    fill: () => Promise.resolve({ face: [], plate: [] }),
    waits: () => false,
    finish: () => undefined,
  };
  return { begin: () => frame };
}

async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((resolve) => setTimeout(resolve, 50));
}

describe('DeidWorkerPool with a busy real worker', () => {
  it('frames past their deadline fail (timedOut), their workers are retired, not killed, and the pool serves on', async () => {
    const jpeg = await readSelfTestImage();
    // A deadline no frame can meet (a 1080p frame takes well over 10 ms), whatever the machine's
    // load: each frame times out while its worker is still inside its native calls.
    const pool = new DeidWorkerPool({ size: 1, maxPending: 2, timeoutMs: 10, init, log: silentLogger() });
    await pool.start();
    const late: PoolOutcome[] = [];
    for (let i = 0; i < 3; i++) late.push(await pool.submit({ encoding: 'jpeg', schemaRef: '', data: jpeg }));
    // Meanwhile the old workers' inferences returned: had they been terminated, the process would have aborted.
    const next = await pool.submit({ encoding: 'jpeg', schemaRef: '', data: jpeg, timeoutMs: 120_000 });
    expect(next.kind).toBe('done');
    if (next.kind === 'done') expect(next.detections.length).toBeGreaterThan(0);
    for (const outcome of late)
      expect(outcome).toMatchObject({
        kind: 'failed',
        timedOut: true,
        error: { code: 'RIGCAP_DEID_INFERENCE' },
      });
    // The retired workers finish their calls and exit by themselves.
    await until(() => pool.retiring === 0);
    await pool.close();
  }, 240_000);

  it('destroy while a worker is inside onnxruntime fails the frame and retires the worker', async () => {
    const jpeg = await readSelfTestImage();
    const pool = new DeidWorkerPool({
      size: 1,
      maxPending: 2,
      timeoutMs: 120_000,
      init,
      log: silentLogger(),
    });
    await pool.start();
    // The thumbnail comes just before the face tiles run: destroy lands in (or between) inferences.
    const outcome = await pool.submit({
      encoding: 'jpeg',
      schemaRef: '',
      data: jpeg,
      scan: frameScan({ signature: () => setTimeout(() => pool.destroy(), 50) }),
    });
    expect(outcome.kind).toBe('failed');
    await until(() => pool.retiring === 0);
    expect(pool.retiring).toBe(0);
  }, 180_000);
});
