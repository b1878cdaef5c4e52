// De-id workers step back behind the capture path: each worker thread runs at a higher nice value
// than the rest of the process, which keeps its own (Linux keeps a nice value per thread).
import { getPriority } from 'node:os';
import { describe, expect, it } from 'vitest';
import { defaultDeidConfig, deidParamsFor } from '../../../agent/deid/params.ts';
import { currentThreadId } from '../../../agent/deid/thread-priority.ts';
import { DeidWorkerPool, defaultWorkerNiceness } from '../../../agent/deid/worker-pool.ts';
import { silentLogger } from '../../../agent/log.ts';

const init = { specs: [], params: deidParamsFor(defaultDeidConfig), intraOpThreads: 1 };
const job = { encoding: 'jpeg', schemaRef: '', data: new Uint8Array([0xff, 0xd8, 0xff]) };

async function workerNice(niceness: number | undefined): Promise<number> {
  const pool = new DeidWorkerPool({
    size: 1,
    maxPending: 1,
    timeoutMs: 30_000,
    init,
    log: silentLogger(),
    workerUrl: new URL('./workers/priority-worker.ts', import.meta.url),
    ...(niceness === undefined ? {} : { niceness }),
  });
  await pool.start();
  try {
    const outcome = await pool.submit(job);
    if (outcome.kind !== 'done') throw new Error(`job ${outcome.kind}`);
    return outcome.data[0]! - 20;
  } finally {
    await pool.close();
  }
}

describe.runIf(process.platform === 'linux')('de-id worker priority', () => {
  it('runs workers niceness steps below the process, and leaves the calling thread as it was', async () => {
    const own = getPriority(currentThreadId()!);
    expect(await workerNice(undefined)).toBe(Math.min(19, own + defaultWorkerNiceness));
    expect(await workerNice(3)).toBe(Math.min(19, own + 3));
    expect(await workerNice(0)).toBe(own);
    expect(getPriority(currentThreadId()!)).toBe(own);
  });
});
