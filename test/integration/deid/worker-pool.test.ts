import { describe, expect, it } from 'vitest';
import { defaultDeidConfig, deidParamsFor } from '../../../agent/deid/params.ts';
import type { FaceScanContext, FaceScanPlan } from '../../../agent/deid/face-scan.ts';
import type { FrameScan } from '../../../agent/deid/stream-scan.ts';
import { DeidWorkerPool } from '../../../agent/deid/worker-pool.ts';
import { silentLogger } from '../../../agent/log.ts';

const init = { specs: [], params: deidParamsFor(defaultDeidConfig), intraOpThreads: 1 };
const job = { encoding: 'jpeg', schemaRef: '', data: new Uint8Array([0xff, 0xd8, 0xff]) };

/** A started one-worker pool running one of the fake workers in ./workers. */
async function startPool(
  worker: string,
  limits: { maxPending: number; timeoutMs: number },
): Promise<DeidWorkerPool> {
  const pool = new DeidWorkerPool({
    size: 1,
    ...limits,
    init,
    log: silentLogger(),
    // A retired fake worker that spins (a JavaScript hang) is terminated after this long.
    retireGraceMs: 500,
    workerUrl: new URL(`./workers/${worker}`, import.meta.url),
  });
  await pool.start();
  return pool;
}

describe('DeidWorkerPool', () => {
  it('fails a job past its deadline, replaces the stuck worker, and keeps serving', async () => {
    const pool = await startPool('hanging-worker.ts', { maxPending: 2, timeoutMs: 200 });
    const first = await pool.submit(job);
    expect(first).toMatchObject({ kind: 'failed', error: { code: 'RIGCAP_DEID_INFERENCE' } });
    // The replacement worker takes the next job (and times out too: it hangs by design).
    const second = await pool.submit(job);
    expect(second.kind).toBe('failed');
    pool.destroy();
  });

  it('refuses at once when the queue is full, and destroy fails what was queued', async () => {
    const pool = await startPool('hanging-worker.ts', { maxPending: 1, timeoutMs: 60_000 });
    const running = pool.submit(job);
    const queued = pool.submit(job);
    expect(await pool.submit(job)).toEqual({ kind: 'backpressure' });
    expect(pool.pending).toBe(1);
    pool.destroy();
    expect((await running).kind).toBe('failed');
    expect((await queued).kind).toBe('failed');
  });

  it('passes a job error from the worker through as a failed outcome', async () => {
    const pool = await startPool('throwing-worker.ts', { maxPending: 1, timeoutMs: 60_000 });
    expect(await pool.submit(job)).toMatchObject({
      kind: 'failed',
      error: { code: 'RIGCAP_DEID_INFERENCE', message: /invalid input tensor/ },
    });
    await pool.close();
  });

  it('gives a worker whose frame waits for an earlier one the next frame meanwhile', async () => {
    const pool = await startPool('asking-worker.ts', { maxPending: 2, timeoutMs: 10_000 });
    // The first frame's context comes only once the second frame is done: with one worker that
    // waited idle, the two would wait for each other for ever.
    let release: (() => void) | undefined;
    const released = new Promise<void>((resolve) => (release = resolve));
    const context: FaceScanContext = {
      frame: -1,
      tracks: [],
      verdicts: [],
      plates: { run: true, tracks: [] },
    };
    const plan: FaceScanPlan = {
      sweep: { phase: 0, of: 4 },
      reference: null,
      runPlates: true,
      context: 'ask',
    };
    const waiting: FrameScan = {
      plan,
      signature: () => undefined,
      reference: () => Promise.resolve(null),
      context: () => released.then(() => context),
      fill: () => Promise.resolve({ face: [], plate: [] }),
      waits: () => true,
      finish: () => undefined,
    };
    const first = pool.submit({ ...job, scan: { begin: () => waiting } });
    const second = await pool.submit(job);
    expect(second.kind).toBe('done');
    release?.();
    expect((await first).kind).toBe('done');
    await pool.close();
  });
});
