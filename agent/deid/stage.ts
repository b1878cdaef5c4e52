// The de-id stage of the pipeline: every image sample of a non-exempt stream goes through the
// worker pool and comes out blurred, or not at all. Nothing un-blurred passes on any failure.
// In spill mode a frame the pool cannot take in time is sealed in the session's holding area
// (see holding/) instead of dropped, and a background pass blurs it later into a later chunk.
import { availableParallelism } from 'node:os';
import type { DropCause, Sample } from '../../drivers/types.ts';
import type { DeidConfig } from '../config/types.ts';
import { RigcapError, isRigcapError, type ErrorCode } from '../errors.ts';
import type { Logger } from '../log.ts';
import { isImageSample } from './image-codec.ts';
import { HoldingArea, type HeldEntry, type HeldLoss, type HeldLossCause } from './holding/holding-area.ts';
import type { KeyWrapper } from './holding/key-wrapper.ts';
import { LateBlurPass, type LateOutcome } from './holding/late-blur.ts';
import { DeidLineageAccumulator, countBoxes, filledBoxes, type DeidLineage } from './lineage.ts';
import { modelSpecsFor, type ModelSpec } from './models.ts';
import { deidParamsFor, type DeidParams } from './params.ts';
import { readSelfTestImage, runDeidSelfTest, type DeidSelfTestResult } from './selftest.ts';
import { providerChoice } from './providers.ts';
import { StreamScan } from './stream-scan.ts';
import { DeidWorkerPool } from './worker-pool.ts';

/** What became of a sample; `held` = sealed in the holding area, accounted when it is blurred or lost. */
export type DeidOutcome =
  | { readonly kind: 'ok'; readonly sample: Sample }
  | { readonly kind: 'held' }
  | {
      readonly kind: 'dropped';
      readonly cause: 'deid_backpressure' | 'deid_failed' | 'deid_holding_full' | 'deid_held_lost';
    };

/** The holding area's state (spill mode) for status, metrics and the bench. */
export interface DeidHoldingStatus {
  readonly mode: 'inline' | 'spill';
  /** Frames sealed and not yet blurred. */
  readonly heldFrames: number;
  readonly heldBytes: number;
  readonly budgetBytes: number;
  readonly drop: 'oldest' | 'newest';
  /** Capture time of the oldest held frame (decimal ns), null when none is held. */
  readonly oldestHeldNs: string | null;
  /** Held frames blurred and written so far. */
  readonly blurredLate: number;
  /** Longest hold before a late frame was written (decimal ns). */
  readonly maxDelayNs: string;
  /** Held frames lost, by cause. */
  readonly lost: Readonly<Record<HeldLossCause, number>>;
  /** Where the data key lives (`memory`: nothing on disk can open a held frame). */
  readonly keyWrapper: string;
}

/** What the holding area of a session needs from the agent. */
export interface HoldingPorts {
  readonly spoolDir: string;
  readonly sessionId: string;
  /** deid.holdingBytes, already capped by the disk budget. */
  readonly budgetBytes: number;
  /** Writes a late-blurred frame into the session's open chunk (counted written there). */
  deliver(sample: Sample): Promise<void>;
  /** Counts a held frame that will never be written. */
  drop(stream: string, cause: DropCause): void;
  readonly keyWrapper?: KeyWrapper;
}

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
  /** Held frames are a second video of their stream, scanned in their own order. */
  readonly #lateScans = new Map<string, StreamScan>();
  #inlineInFlight = 0;
  /** Held frames (stream:seq) that ran past their deadline once and went back to the holding area. */
  readonly #lateTimedOut = new Set<string>();
  #holding: HoldingArea | undefined;
  #late: LateBlurPass | undefined;
  #holdingPorts: HoldingPorts | undefined;
  readonly #lost: Record<HeldLossCause, number> = { deid_holding_full: 0, deid_held_lost: 0 };
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
  }

  /** Loads and verifies the models in every worker, then runs the self-test; throws (and stays failed) if either fails. */
  async start(): Promise<void> {
    if (!this.#config.enabled || this.#state !== 'idle') return;
    this.#state = 'starting';
    const warmUpJpeg = await readSelfTestImage();
    const pool = new DeidWorkerPool({
      size: this.#workers,
      maxPending: this.#config.maxPending,
      timeoutMs: this.#config.timeoutMs,
      // Each worker gets one inference thread: parallelism comes from the workers, not from oversubscription.
      init: {
        specs: this.#models,
        params: this.#params,
        intraOpThreads: 1,
        provider: providerChoice(this.#config),
        warmUpJpeg,
      },
      log: this.#log,
      ...(this.#workerUrl === undefined ? {} : { workerUrl: this.#workerUrl }),
      ...(this.#retireGraceMs === undefined ? {} : { retireGraceMs: this.#retireGraceMs }),
    });
    // Start-up (models loaded and warmed up in every worker, then the self-test) has its own bound.
    const bound = this.#config.selfTestTimeoutMs;
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
      this.#pool = pool;
      this.#selfTest = await runDeidSelfTest(async (jpeg) => {
        const timeoutMs = Math.max(1, Math.round(deadline - performance.now()));
        const outcome = await pool.submit({ encoding: 'jpeg', schemaRef: '', data: jpeg, timeoutMs });
        if (outcome.kind === 'failed' && outcome.timedOut === true) throw late();
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
    this.#inlineInFlight++;
    const outcome = await pool
      .submit({
        encoding: sample.encoding,
        schemaRef: sample.schemaRef,
        data: sample.data,
        scan: scanOf(this.#scans, sample.stream, this.#params),
      })
      .finally(() => {
        this.#inlineInFlight--;
        this.#late?.kick();
      });
    if (outcome.kind === 'backpressure') {
      stream.backpressure++;
      if (this.#holding !== undefined) return this.#hold(sample);
      this.#lineage.record(sample.stream, { kind: 'dropped' });
      return { kind: 'dropped', cause: 'deid_backpressure' };
    }
    // Spill: a frame past its deadline (a busy machine, not a bad frame) is held and blurred later.
    if (outcome.kind === 'failed' && outcome.timedOut === true && this.#holding !== undefined)
      return this.#hold(sample);
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
    if (this.#config.mode !== 'spill' || !this.#config.enabled || this.#holding !== undefined) return;
    this.#holdingPorts = ports;
    const holding = await HoldingArea.open({
      spoolDir: ports.spoolDir,
      sessionId: ports.sessionId,
      budgetBytes: ports.budgetBytes,
      dropPolicy: this.#config.holdingDrop,
      log: this.#log,
      ...(ports.keyWrapper === undefined ? {} : { keyWrapper: ports.keyWrapper }),
      onLost: (entry, cause) => this.#heldLost(entry, cause),
    });
    this.#holding = holding;
    this.#late = new LateBlurPass({
      holding,
      log: this.#log,
      redact: (sample, { last }) => this.#redactLate(sample, last),
      hasRoom: () => this.#pool?.hasRoom ?? true,
      lookaheadFrames: this.#lookahead,
      flush: (stream) => this.#lateScans.get(stream)?.flush(),
      deliver: (sample) => ports.deliver(sample),
      inlineIdle: () => this.#inlineInFlight < this.#workers && (this.#pool?.pending ?? 0) === 0,
      drainConcurrency: this.#workers + 1,
      onBlurred: (entry, delayNs, boxes, filled) => {
        const stream = this.#streamStatus(entry.stream);
        stream.redacted++;
        stream.degraded = false;
        this.#lineage.record(entry.stream, { kind: 'redacted', boxes, lateDelayNs: delayNs, filled });
      },
      onFailed: (entry) => {
        ports.drop(entry.stream, 'deid_failed');
        this.#fail(
          entry.stream,
          this.#streamStatus(entry.stream),
          new RigcapError('RIGCAP_DEID_INFERENCE', 'de-id of a held frame failed'),
        );
      },
    });
  }

  /**
   * Blurs every held frame with all workers until none is left or `deadlineMs` passes (none: no
   * limit, as for ingest); frames still held then are deleted unread and counted `deid_held_lost`.
   * Returns those losses per stream (the session's gaps). Call after capture has drained.
   */
  async finishHolding(
    options: { deadlineMs?: number; onProgress?: (held: number) => void } = {},
  ): Promise<HeldLoss[]> {
    const holding = this.#holding;
    const late = this.#late;
    if (holding === undefined || late === undefined) return [];
    await late.drain(options);
    const lost = await holding.discardQueued('deid_held_lost');
    if (lost.length > 0)
      this.#log.warn(
        { lost: lost.map((l) => ({ stream: l.stream, frames: l.count })) },
        'held frames not blurred before the stop budget ran out; deleted unread and counted as a gap',
      );
    await holding.close();
    return lost;
  }

  /** The holding area's state; in inline mode, its zero values. */
  get holding(): DeidHoldingStatus {
    const h = this.#holding;
    const oldest = h?.oldestCaptureNs;
    return {
      mode: this.#config.mode,
      heldFrames: h?.frames ?? 0,
      heldBytes: h?.bytes ?? 0,
      budgetBytes: h?.budgetBytes ?? this.#holdingPorts?.budgetBytes ?? this.#config.holdingBytes,
      drop: this.#config.holdingDrop,
      oldestHeldNs: oldest === undefined ? null : oldest.toString(),
      blurredLate: this.#late?.blurred ?? 0,
      maxDelayNs: (this.#late?.maxDelayNs ?? 0n).toString(),
      lost: { ...this.#lost },
      keyWrapper: h?.keyWrapperKind ?? 'memory',
    };
  }

  async #hold(sample: Sample): Promise<DeidOutcome> {
    const result = await this.#holding!.put(sample).catch((err: unknown) => {
      // A frame that cannot be sealed (disk full, I/O error) is dropped, never written unblurred.
      this.#log.error(
        { stream: sample.stream, err: String(err) },
        'could not hold a frame for de-id; dropped',
      );
      return { kind: 'error' as const };
    });
    if (result.kind === 'held') return { kind: 'held' };
    const cause = result.kind === 'full' ? 'deid_holding_full' : 'deid_held_lost';
    this.#lost[cause]++;
    this.#lineage.record(sample.stream, { kind: 'heldLost' });
    return { kind: 'dropped', cause };
  }

  #heldLost(entry: HeldEntry, cause: HeldLossCause): void {
    this.#lost[cause]++;
    this.#lineage.record(entry.stream, { kind: 'heldLost' });
    this.#holdingPorts?.drop(entry.stream, cause);
  }

  /** Held frames are blurred as runs of their stream: each waits for this many held frames after it. */
  get #lookahead(): number {
    return this.#config.lookaheadFrames ?? 0;
  }

  async #redactLate(sample: Sample, last: boolean): Promise<LateOutcome> {
    const pool = this.#pool;
    if (pool === undefined || this.#state !== 'ready') return { kind: 'failed' };
    const outcome = await pool.submit({
      encoding: sample.encoding,
      schemaRef: sample.schemaRef,
      data: sample.data,
      scan: scanOf(this.#lateScans, sample.stream, this.#params, this.#lookahead),
      lastOfStream: last,
    });
    if (outcome.kind === 'backpressure') return { kind: 'busy' };
    // A held frame past its deadline goes back to the holding area once; a second time it fails.
    const key = `${sample.stream}:${sample.seq}`;
    if (outcome.kind === 'failed' && outcome.timedOut === true && !this.#lateTimedOut.has(key)) {
      this.#lateTimedOut.add(key);
      return { kind: 'busy' };
    }
    this.#lateTimedOut.delete(key);
    if (outcome.kind === 'failed') return { kind: 'failed' };
    return {
      kind: 'ok',
      sample: { ...sample, data: outcome.data },
      boxes: countBoxes(outcome.detections),
      filled: filledBoxes(outcome.faceScan),
    };
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
    await this.#late?.stop();
    const pool = this.#pool;
    this.#pool = undefined;
    this.#state = 'closed';
    await pool?.close();
  }

  /** Abandons queued frames (they are dropped as failed) and stops the workers now. Idempotent. */
  destroy(): void {
    void this.#late?.stop();
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

function scanOf(
  scans: Map<string, StreamScan>,
  stream: string,
  params: DeidParams,
  lookaheadFrames = 0,
): StreamScan {
  let scan = scans.get(stream);
  if (scan === undefined) {
    scan = new StreamScan(params, { lookaheadFrames });
    scans.set(stream, scan);
  }
  return scan;
}
