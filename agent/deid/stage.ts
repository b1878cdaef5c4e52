// The de-id stage of the pipeline: every image sample of a non-exempt stream goes through the
// worker pool and comes out blurred, or not at all. Nothing un-blurred passes on any failure.
import { availableParallelism } from 'node:os';
import type { Sample } from '../../drivers/types.ts';
import type { DeidConfig } from '../config/types.ts';
import { RigcapError, isRigcapError, type ErrorCode } from '../errors.ts';
import type { Logger } from '../log.ts';
import { isImageSample } from './image-codec.ts';
import { DeidLineageAccumulator, type DeidLineage } from './lineage.ts';
import { modelSpecsFor, type ModelSpec } from './models.ts';
import { deidParamsFor, type DeidParams } from './params.ts';
import { runDeidSelfTest, type DeidSelfTestResult } from './selftest.ts';
import { StreamScan } from './stream-scan.ts';
import { DeidWorkerPool } from './worker-pool.ts';

/** What became of a sample. */
export type DeidOutcome =
  | { readonly kind: 'ok'; readonly sample: Sample }
  | { readonly kind: 'dropped'; readonly cause: 'deid_backpressure' | 'deid_failed' };

/** Per-stream health for status and metrics. */
export interface DeidStreamStatus {
  /** Set by a failed frame, cleared by the next frame that is redacted. */
  degraded: boolean;
  lastErrorCode: ErrorCode | null;
  redacted: number;
  failed: number;
  backpressure: number;
}

/** The stage's state for `rigcap status` and Prometheus. */
export interface DeidStatus {
  readonly state: 'idle' | 'starting' | 'ready' | 'failed' | 'closed';
  readonly enabled: boolean;
  readonly workers: number;
  readonly pending: number;
  readonly lastError: { readonly code: ErrorCode; readonly message: string } | null;
  readonly selfTest: DeidSelfTestResult | null;
  readonly streams: Readonly<Record<string, Readonly<DeidStreamStatus>>>;
}

export interface DeidStageOptions {
  readonly config: DeidConfig;
  readonly log: Logger;
  /** Streams configured `deid.exempt: true`: passed on unchanged and named in the lineage. */
  readonly exemptStreams?: readonly string[];
  /** Overrides the models from config (tests point these at corrupt or missing files). */
  readonly models?: readonly ModelSpec[];
  /** Overrides the worker entry (tests use one that hangs or throws). */
  readonly workerUrl?: URL;
}

/** De-identifies image samples in worker threads, failing closed. */
export class DeidStage {
  readonly #config: DeidConfig;
  readonly #log: Logger;
  readonly #exempt: ReadonlySet<string>;
  readonly #models: readonly ModelSpec[];
  readonly #params: DeidParams;
  readonly #lineage: DeidLineageAccumulator;
  readonly #workers: number;
  readonly #workerUrl: URL | undefined;
  readonly #streams = new Map<string, DeidStreamStatus>();
  /** Each image stream is a video: its face scan is planned from what its earlier frames showed. */
  readonly #scans = new Map<string, StreamScan>();
  #pool: DeidWorkerPool | undefined;
  #state: DeidStatus['state'] = 'idle';
  #lastError: DeidStatus['lastError'] = null;
  #selfTest: DeidSelfTestResult | null = null;

  constructor(options: DeidStageOptions) {
    this.#config = options.config;
    this.#log = options.log.child({ component: 'deid' });
    this.#exempt = new Set(options.exemptStreams ?? []);
    this.#models = options.models ?? modelSpecsFor(options.config);
    this.#params = deidParamsFor(options.config);
    this.#workers = options.config.workers > 0 ? options.config.workers : Math.max(1, availableParallelism());
    this.#workerUrl = options.workerUrl;
    this.#lineage = new DeidLineageAccumulator({
      enabled: options.config.enabled,
      models: this.#models,
      params: this.#params,
      exemptStreams: [...this.#exempt],
    });
  }

  /** Loads and verifies the models in every worker, then runs the self-test; throws (and stays failed) if either fails. */
  async start(): Promise<void> {
    if (!this.#config.enabled || this.#state !== 'idle') return;
    this.#state = 'starting';
    const pool = new DeidWorkerPool({
      size: this.#workers,
      maxPending: this.#config.maxPending,
      timeoutMs: this.#config.timeoutMs,
      // Each worker gets one inference thread: parallelism comes from the workers, not from oversubscription.
      init: { specs: this.#models, params: this.#params, intraOpThreads: 1 },
      log: this.#log,
      ...(this.#workerUrl === undefined ? {} : { workerUrl: this.#workerUrl }),
    });
    try {
      await pool.start();
      this.#pool = pool;
      this.#selfTest = await runDeidSelfTest(async (jpeg) => {
        const outcome = await pool.submit({ encoding: 'jpeg', schemaRef: '', data: jpeg });
        if (outcome.kind === 'failed') throw outcome.error;
        if (outcome.kind === 'backpressure')
          throw new RigcapError('RIGCAP_DEID_SELFTEST_FAILED', 'self-test refused by a full pool');
        return outcome;
      });
      this.#state = 'ready';
      this.#log.info(
        { workers: this.#workers, models: this.#models.map((m) => m.name), selfTest: this.#selfTest },
        'de-id ready',
      );
    } catch (err) {
      pool.destroy();
      this.#pool = undefined;
      this.#state = 'failed';
      const rigErr = isRigcapError(err)
        ? err
        : new RigcapError('RIGCAP_DEID_INFERENCE', String(err), { cause: err });
      this.#lastError = { code: rigErr.code, message: rigErr.message };
      this.#log.error(
        { code: rigErr.code, err: rigErr },
        'de-id failed to start; image frames will be dropped',
      );
      throw rigErr;
    }
  }

  /** Redacts an image sample; passes non-image and exempt samples through; drops on any failure. */
  async process(sample: Sample): Promise<DeidOutcome> {
    if (!this.#config.enabled || !isImageSample(sample)) return { kind: 'ok', sample };
    if (this.#exempt.has(sample.stream)) {
      this.#lineage.record(sample.stream, { kind: 'exempt' });
      return { kind: 'ok', sample };
    }
    const stream = this.#streamStatus(sample.stream);
    const pool = this.#pool;
    if (pool === undefined || this.#state !== 'ready') {
      return this.#fail(
        sample.stream,
        stream,
        new RigcapError('RIGCAP_DEID_INFERENCE', `de-id is ${this.#state}, not ready`),
      );
    }
    let scan = this.#scans.get(sample.stream);
    if (scan === undefined) {
      scan = new StreamScan(this.#params);
      this.#scans.set(sample.stream, scan);
    }
    const outcome = await pool.submit({
      encoding: sample.encoding,
      schemaRef: sample.schemaRef,
      data: sample.data,
      scan,
    });
    if (outcome.kind === 'backpressure') {
      stream.backpressure++;
      this.#lineage.record(sample.stream, { kind: 'dropped' });
      return { kind: 'dropped', cause: 'deid_backpressure' };
    }
    if (outcome.kind === 'failed') return this.#fail(sample.stream, stream, outcome.error);
    const boxes = { face: 0, plate: 0 };
    for (const d of outcome.detections) boxes[d.kind]++;
    stream.redacted++;
    stream.degraded = false;
    this.#lineage.record(sample.stream, { kind: 'redacted', boxes });
    return { kind: 'ok', sample: { ...sample, data: outcome.data } };
  }

  /** The transform record for the chunk just closed; counting restarts. */
  takeLineage(): DeidLineage {
    return this.#lineage.take();
  }

  /** Current health, per stream. */
  status(): DeidStatus {
    return {
      state: this.#state,
      enabled: this.#config.enabled,
      workers: this.#workers,
      pending: this.#pool?.pending ?? 0,
      lastError: this.#lastError,
      selfTest: this.#selfTest,
      streams: Object.fromEntries([...this.#streams].map(([k, v]) => [k, { ...v }])),
    };
  }

  /** Finishes frames already queued, then stops the workers. Idempotent. */
  async close(): Promise<void> {
    const pool = this.#pool;
    this.#pool = undefined;
    this.#state = 'closed';
    await pool?.close();
  }

  /** Abandons queued frames (they are dropped as failed) and stops the workers now. Idempotent. */
  destroy(): void {
    const pool = this.#pool;
    this.#pool = undefined;
    this.#state = 'closed';
    pool?.destroy();
  }

  #streamStatus(name: string): DeidStreamStatus {
    let s = this.#streams.get(name);
    if (s === undefined) {
      s = { degraded: false, lastErrorCode: null, redacted: 0, failed: 0, backpressure: 0 };
      this.#streams.set(name, s);
    }
    return s;
  }

  #fail(name: string, stream: DeidStreamStatus, error: RigcapError): DeidOutcome {
    stream.failed++;
    stream.degraded = true;
    stream.lastErrorCode = error.code;
    this.#lastError = { code: error.code, message: error.message };
    this.#lineage.record(name, { kind: 'failed' });
    this.#log.warn({ stream: name, code: error.code, err: error }, 'de-id failed; frame dropped');
    return { kind: 'dropped', cause: 'deid_failed' };
  }
}
