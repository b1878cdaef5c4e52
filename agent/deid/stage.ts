// The de-id stage of the pipeline: every image sample of a non-exempt stream goes through the
// worker pool and comes out blurred, or not at all. Nothing un-blurred passes on any failure.
// In spill mode a frame the pool cannot take in time is sealed in the session's holding area
// (see holding/spill.ts) instead of dropped, and a background pass blurs it later into a later chunk.
import { availableParallelism } from 'node:os';
import type { Sample } from '../../drivers/types.ts';
import type { DeidConfig } from '../config/types.ts';
import { RigcapError, isRigcapError, type ErrorCode } from '../errors.ts';
import type { Logger } from '../log.ts';
import { isImageSample } from './image-codec.ts';
import type { HeldLoss } from './holding/holding-area.ts';
import { SpillHolding, type DeidHoldingStatus, type HoldingPorts } from './holding/spill.ts';
import { DeidLineageAccumulator, countBoxes, filledBoxes, type DeidLineage } from './lineage.ts';
import { modelSpecsFor, type ModelSpec } from './models.ts';
import { deidParamsFor, type DeidParams } from './params.ts';
import { startDeidPool } from './pool-start.ts';
import type { DeidSelfTestResult } from './selftest.ts';
import { scanFor, type StreamScan } from './stream-scan.ts';
import type { DeidWorkerPool } from './worker-pool.ts';

export type { DeidHoldingStatus, HoldingPorts } from './holding/spill.ts';

/** What became of a sample; `held` = sealed in the holding area, accounted when it is blurred or lost. */
export type DeidOutcome =
  | { readonly kind: 'ok'; readonly sample: Sample }
  | { readonly kind: 'held' }
  | {
      readonly kind: 'dropped';
      readonly cause: 'deid_backpressure' | 'deid_failed' | 'deid_holding_full' | 'deid_held_lost';
    };

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
  readonly holding: DeidHoldingStatus;
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
  /** How long a retired busy worker may take to exit before it is terminated (see DeidWorkerPool). */
  readonly retireGraceMs?: number;
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
  readonly #retireGraceMs: number | undefined;
  readonly #streams = new Map<string, DeidStreamStatus>();
  /** Each image stream is a video: its face scan is planned from what its earlier frames showed. */
  readonly #scans = new Map<string, StreamScan>();
  #inlineInFlight = 0;
  readonly #spill: SpillHolding;
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
    this.#retireGraceMs = options.retireGraceMs;
    this.#lineage = new DeidLineageAccumulator({
      enabled: options.config.enabled,
      models: this.#models,
      params: this.#params,
      exemptStreams: [...this.#exempt],
      onBackpressure: options.config.mode === 'spill' ? 'spill' : 'drop',
    });
    this.#spill = new SpillHolding({
      config: this.#config,
      params: this.#params,
      workers: this.#workers,
      log: this.#log,
      lineage: this.#lineage,
      pool: () => (this.#state === 'ready' ? this.#pool : undefined),
      inlineIdle: () => this.#inlineInFlight < this.#workers && (this.#pool?.pending ?? 0) === 0,
      onRedacted: (stream) => {
        const status = this.#streamStatus(stream);
        status.redacted++;
        status.degraded = false;
      },
      onFailed: (stream) => {
        const error = new RigcapError('RIGCAP_DEID_INFERENCE', 'de-id of a held frame failed');
        this.#fail(stream, this.#streamStatus(stream), error);
      },
    });
  }

  /** Loads and verifies the models in every worker, then runs the self-test; throws (and stays failed) if either fails. */
  async start(): Promise<void> {
    if (!this.#config.enabled || this.#state !== 'idle') return;
    this.#state = 'starting';
    try {
      const { pool, selfTest } = await startDeidPool({
        config: this.#config,
        models: this.#models,
        params: this.#params,
        workers: this.#workers,
        log: this.#log,
        workerUrl: this.#workerUrl,
        retireGraceMs: this.#retireGraceMs,
      });
      this.#pool = pool;
      this.#selfTest = selfTest;
      this.#state = 'ready';
      this.#log.info(
        { workers: this.#workers, models: this.#models.map((m) => m.name), selfTest: this.#selfTest },
        'de-id ready',
      );
    } catch (err) {
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
    this.#inlineInFlight++;
    const outcome = await pool
      .submit({
        encoding: sample.encoding,
        schemaRef: sample.schemaRef,
        data: sample.data,
        scan: scanFor(this.#scans, sample.stream, this.#params),
      })
      .finally(() => {
        this.#inlineInFlight--;
        this.#spill.kick();
      });
    if (outcome.kind === 'backpressure') {
      stream.backpressure++;
      if (this.#spill.active) return this.#spill.hold(sample);
      this.#lineage.record(sample.stream, { kind: 'dropped' });
      return { kind: 'dropped', cause: 'deid_backpressure' };
    }
    // Spill: a frame past its deadline (a busy machine, not a bad frame) is held and blurred later.
    if (outcome.kind === 'failed' && outcome.timedOut === true && this.#spill.active)
      return this.#spill.hold(sample);
    if (outcome.kind === 'failed') return this.#fail(sample.stream, stream, outcome.error);
    const boxes = countBoxes(outcome.detections);
    stream.redacted++;
    stream.degraded = false;
    this.#lineage.record(sample.stream, { kind: 'redacted', boxes, filled: filledBoxes(outcome.faceScan) });
    return { kind: 'ok', sample: { ...sample, data: outcome.data } };
  }

  /** Samples of one stream worth having in the stage at once: spill mode keeps the pool's queue full. */
  get window(): number {
    const inline = Math.max(2, this.#workers);
    return this.#config.mode === 'spill' ? this.#workers + this.#config.maxPending + 32 : inline;
  }

  /**
   * Spill mode: opens the session's holding area and starts the background pass, which blurs held
   * frames whenever the inline frames leave a worker free. Does nothing in inline mode.
   */
  async beginHolding(ports: HoldingPorts): Promise<void> {
    if (this.#config.mode !== 'spill' || !this.#config.enabled) return;
    await this.#spill.begin(ports);
  }

  /**
   * Blurs every held frame with all workers until none is left or `deadlineMs` passes (none: no
   * limit, as for ingest); frames still held then are deleted unread and counted `deid_held_lost`.
   * Returns those losses per stream (the session's gaps). Call after capture has drained.
   */
  async finishHolding(
    options: { deadlineMs?: number; onProgress?: (held: number) => void } = {},
  ): Promise<HeldLoss[]> {
    return this.#spill.finish(options);
  }

  /** The holding area's state; in inline mode, its zero values. */
  get holding(): DeidHoldingStatus {
    return this.#spill.status();
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
      holding: this.holding,
    };
  }

  /** Finishes frames already queued, then stops the workers. Idempotent. */
  async close(): Promise<void> {
    await this.#spill.stop();
    const pool = this.#pool;
    this.#pool = undefined;
    this.#state = 'closed';
    await pool?.close();
  }

  /** Abandons queued frames (they are dropped as failed) and stops the workers now. Idempotent. */
  destroy(): void {
    void this.#spill.stop();
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
