// Start-up of the de-id stage's worker pool: every worker loads and verifies the models and warms
// up, then the self-test runs through the pool, all within `deid.selfTestTimeoutMs` (apart from
// the per-frame deadline). Any failure stops the pool and throws: the stage fails closed.
import type { DeidConfig } from '../config/types.ts';
import { RigcapError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { ModelSpec } from './models.ts';
import type { DeidParams } from './params.ts';
import { providerChoice } from './providers.ts';
import { readSelfTestImage, runDeidSelfTest, type DeidSelfTestResult } from './selftest.ts';
import { DeidWorkerPool } from './worker-pool.ts';

export interface PoolStartOptions {
  readonly config: DeidConfig;
  readonly models: readonly ModelSpec[];
  readonly params: DeidParams;
  readonly workers: number;
  readonly log: Logger;
  readonly workerUrl?: URL | undefined;
  readonly retireGraceMs?: number | undefined;
}

/** A started pool that passed the self-test; throws (with every worker stopped) otherwise. */
export async function startDeidPool(
  o: PoolStartOptions,
): Promise<{ pool: DeidWorkerPool; selfTest: DeidSelfTestResult }> {
  const warmUpJpeg = await readSelfTestImage();
  const pool = new DeidWorkerPool({
    size: o.workers,
    maxPending: o.config.maxPending,
    timeoutMs: o.config.timeoutMs,
    // Each worker gets one inference thread: parallelism comes from the workers, not from oversubscription.
    init: {
      specs: o.models,
      params: o.params,
      intraOpThreads: 1,
      provider: providerChoice(o.config),
      warmUpJpeg,
    },
    log: o.log,
    ...(o.workerUrl === undefined ? {} : { workerUrl: o.workerUrl }),
    ...(o.retireGraceMs === undefined ? {} : { retireGraceMs: o.retireGraceMs }),
  });
  const bound = o.config.selfTestTimeoutMs;
  const deadline = performance.now() + bound;
  const late = (): RigcapError =>
    new RigcapError(
      'RIGCAP_DEID_SELFTEST_FAILED',
      `de-id start-up (model load, warm-up, self-test) took longer than ${bound} ms (deid.selfTestTimeoutMs)`,
    );
  const starting = pool.start();
  starting.catch(() => undefined);
  let startTimer: NodeJS.Timeout | undefined;
  const started = Promise.race([
    starting,
    new Promise<never>((_, reject) => (startTimer = setTimeout(() => reject(late()), bound))),
  ]).finally(() => clearTimeout(startTimer));
  try {
    await started;
    const selfTest = await runDeidSelfTest(async (jpeg) => {
      const timeoutMs = Math.max(1, Math.round(deadline - performance.now()));
      const outcome = await pool.submit({ encoding: 'jpeg', schemaRef: '', data: jpeg, timeoutMs });
      if (outcome.kind === 'failed' && outcome.timedOut === true) throw late();
      if (outcome.kind === 'failed') throw outcome.error;
      if (outcome.kind === 'backpressure')
        throw new RigcapError('RIGCAP_DEID_SELFTEST_FAILED', 'self-test refused by a full pool');
      return outcome;
    });
    return { pool, selfTest };
  } catch (err) {
    pool.destroy();
    throw err;
  }
}
