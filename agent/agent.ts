// The Agent: builds the capture pipeline from a validated config and runs it. Start order, as the
// named phases of start-phases.ts: spool → catalog → disk budget → keys/chain → recovery (salvage,
// reconcile, sign leftovers; it signs, so the keys come first) → calibration → clock → de-id →
// drivers created → session (open record, writer) → drivers opened (READY after the first) →
// capture → calibration watch, heartbeats. Stop order is fixed, as the named phases of
// stop-phases.ts: stop intake → drain queues → held frames (de-id) → close chunk (seal) → close
// session → stop services (catalog flushed and closed among them).
import type { createDrivers } from '../drivers/registry.ts';
import type { CalibrationRegistry } from './calib/index.ts';
import type { Catalog } from './catalog/catalog.ts';
import type { RigcapConfig, StreamConfig } from './config/types.ts';
import type { DeidStage } from './deid/stage.ts';
import { errnoCode, isRigcapError } from './errors.ts';
import type { RecordSealer } from './keys/record-sealer.ts';
import type { Logger } from './log.ts';
import type { ChunkMetadata } from './pipeline/chunk-types.ts';
import { StreamLedger } from './pipeline/ledger.ts';
import { SnapshotGates } from './pipeline/snapshot-gates.ts';
import type { ChunkSealOptions } from './pipeline/seal.ts';
import { recoverSpool, settleSession, type RecoveryOptions } from './recovery.ts';
import type { TransformLineage } from './records/predicates.ts';
import type { DeidTotals, SessionRecorder } from './session-recorder.ts';
import {
  openSpoolAndKeys,
  startCapture,
  startPipeline,
  startServices,
  type AgentParts,
  type StartContext,
} from './start-phases.ts';
import {
  closeOpenChunk,
  closeServices,
  closeSessionRecord,
  drainQueues,
  finishHeldFrames,
  stopIntake,
  type HeldLost,
} from './stop-phases.ts';
import type { DiskBudget } from './sync/disk-budget.ts';
import type { ClockStateTracker } from './timesync/index.ts';
import { rigcapVersion } from './version.ts';

export { newSessionId } from './session-recorder.ts';

export interface AgentOptions {
  config: Readonly<RigcapConfig>;
  configDigest: string;
  log: Logger;
  /** Called once the spool is writable and the first driver is open (sd_notify READY=1). */
  onReady?: () => void;
  /** Replaces driver creation (tests). */
  createDrivers?: typeof createDrivers;
  /** Extra chronyc args (tests point at a private chronyd). */
  chronycArgs?: readonly string[];
  /** Lineage entries added to every chunk record (e.g. the source recording of `rigcap ingest`). */
  extraTransforms?: readonly TransformLineage[];
  /** Replaces the de-id worker entry (tests use a slow or fake one). */
  deidWorkerUrl?: URL;
}

/** A recent error, for status and the status page. */
export interface RecentError {
  at: string;
  code: string;
  message: string;
}

/** The running capture agent. `start` then `stop` (or `destroy`); both idempotent. */
export class Agent {
  readonly config: Readonly<RigcapConfig>;
  /** Configured streams plus those discovered at run time (ROS 2 discovery). */
  readonly streams: StreamConfig[];
  readonly ledger = new StreamLedger();
  readonly #snapshots = new SnapshotGates(this.ledger);
  readonly recentErrors: RecentError[] = [];
  readonly startedAtMs = Date.now();
  /** De-identification totals over this run (summed from each chunk's lineage). */
  readonly deidTotals: DeidTotals = {
    framesIn: 0,
    framesWithDetections: 0,
    faces: 0,
    plates: 0,
    failed: 0,
    dropped: 0,
  };
  readonly #opts: AgentOptions;
  readonly #log: Logger;
  readonly #parts: AgentParts = { drivers: [], closers: [] };
  readonly #pendingMarks: ChunkMetadata[] = [];
  readonly #services = new AbortController();
  #started = false;
  #stopping: Promise<void> | undefined;

  constructor(opts: AgentOptions) {
    this.#opts = opts;
    this.config = opts.config;
    this.streams = [...opts.config.streams];
    this.#log = opts.log.child({ component: 'agent' });
  }

  get sessionId(): string | undefined {
    return this.#parts.session?.sessionId;
  }
  get sessionChunks(): number {
    return this.#parts.session?.chunks ?? 0;
  }
  get catalog(): Catalog | undefined {
    return this.#parts.catalog;
  }
  get sealer(): RecordSealer | undefined {
    return this.#parts.sealer;
  }
  get deid(): DeidStage | undefined {
    return this.#parts.deid;
  }
  get clock(): ClockStateTracker | undefined {
    return this.#parts.clock;
  }
  get diskBudget(): DiskBudget | undefined {
    return this.#parts.disk;
  }
  get calibration(): CalibrationRegistry | undefined {
    return this.#parts.calib;
  }
  /** Samples written so far (the watchdog's progress signal). */
  get progress(): number {
    return this.#parts.capture?.progress ?? 0;
  }
  /** Resolves when every driver has run out of samples (replay reached the end of its files). */
  async intakeEnded(): Promise<void> {
    await this.#parts.capture?.intakeEnded();
  }

  /** True when no samples wait in any queue (an idle rig is not a stuck one). */
  queuesEmpty(): boolean {
    return this.streams.every((s) => this.queueDepth(s.name) === 0);
  }
  queueDepth(stream: string): number {
    return this.#parts.capture?.queueDepth(stream) ?? 0;
  }

  /** Remembers an error with its code for status (bounded list). */
  noteError(code: string, message: string): void {
    this.recentErrors.push({ at: new Date().toISOString(), code, message });
    if (this.recentErrors.length > 50) this.recentErrors.shift();
  }

  /** Starts capture. Cancellable through `signal`; on failure everything started is torn down. */
  async start(signal: AbortSignal): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    try {
      // destroy() during start-up aborts #services: the next checkpoint stops the start there.
      await this.#start(AbortSignal.any([signal, this.#services.signal]));
    } catch (err) {
      await this.destroy(err instanceof Error ? err : new Error(String(err)));
      throw err;
    }
  }

  async #start(signal: AbortSignal): Promise<void> {
    const parts = this.#parts;
    const ctx: StartContext = {
      config: this.config,
      opts: this.#opts,
      log: this.#log,
      noteError: (code, message) => this.noteError(code, message),
    };
    await openSpoolAndKeys(ctx, parts);
    await recoverSpool(this.#recoveryOptions());
    signal.throwIfAborted();
    await startPipeline(ctx, parts, signal);
    signal.throwIfAborted();
    await startCapture(ctx, parts, signal, {
      streams: this.streams,
      ledger: this.ledger,
      snapshots: this.#snapshots,
      deidTotals: this.deidTotals,
      extraTransforms: this.#opts.extraTransforms ?? [],
      marks: this.#pendingMarks,
      sealOptions: () => this.#sealOptions(),
    });
    startServices(ctx, parts, {
      signal: this.#services.signal,
      status: () => ({
        sessionId: this.sessionId ?? null,
        chunks: this.sessionChunks,
        written: this.progress,
      }),
    });
    this.#log.info(
      { sessionId: this.sessionId, streams: this.config.streams.length, drivers: parts.drivers.length },
      'capture started',
    );
  }

  #sealOptions(): ChunkSealOptions {
    return {
      config: this.config,
      streams: this.streams,
      configDigest: this.#opts.configDigest,
      rigcapVersion,
      sealer: this.#parts.sealer!,
      catalog: this.#parts.catalog!,
      log: this.#opts.log,
    };
  }

  #recoveryOptions(): RecoveryOptions {
    return {
      catalog: this.#parts.catalog!,
      sealer: this.#parts.sealer!,
      spoolDir: this.config.spool.dir,
      rigId: this.config.rig.id,
      log: this.#opts.log,
      sealOptions: () => this.#sealOptions(),
      noteError: (code, message) => this.noteError(code, message),
    };
  }

  /** An event marker: MCAP metadata in the open chunk and a signed `event-marker` record. */
  async addMarker(mark: {
    id?: string;
    text: string;
    tags: readonly string[];
    wallNs: bigint;
    monoNs?: bigint;
    /** Who made the mark; signed into the event-marker record. */
    operator?: string;
    metadata: ChunkMetadata;
  }): Promise<number> {
    this.#pendingMarks.push(mark.metadata);
    // Snapshot streams: the marker opens a window; held samples inside it go to the writer now.
    for (const [stream, samples] of this.#snapshots.mark(
      mark.id ?? `${mark.wallNs}`,
      mark.monoNs ?? process.hrtime.bigint(),
    )) {
      this.#parts.capture?.inject(stream, samples);
    }
    const result = await this.#parts.sealer!.markEvent({
      label: mark.text,
      note: mark.tags.join(','),
      atNs: mark.wallNs,
      sessionId: this.sessionId ?? null,
      ...(mark.operator === undefined ? {} : { operator: mark.operator }),
    });
    return result.seq;
  }

  /**
   * Stops in the documented order; bounded by `timeoutMs`, after which queued samples are abandoned
   * (counted `stop_abandoned`) and frames still held for de-id are counted `deid_held_lost`.
   * `deid: 'complete'` (ingest, demo) first de-identifies every queued and held frame, however long
   * that takes, telling `onDeidProgress` the frames still held; `timeoutMs` then bounds the rest.
   */
  stop(
    options: {
      timeoutMs?: number;
      reason?: string;
      deid?: 'complete' | 'within-budget';
      onDeidProgress?: (heldFrames: number) => void;
    } = {},
  ): Promise<void> {
    this.#stopping ??= this.#stop(options.timeoutMs ?? 20_000, options.reason ?? 'stop', options);
    return this.#stopping;
  }

  async #stop(
    timeoutMs: number,
    reason: string,
    options: { deid?: 'complete' | 'within-budget'; onDeidProgress?: (heldFrames: number) => void },
  ): Promise<void> {
    const startedMs = Date.now();
    const complete = options.deid === 'complete';
    const arm = (): NodeJS.Timeout =>
      setTimeout(() => {
        this.#log.error({ timeoutMs }, 'shutdown ran out of time; abandoning queued samples');
        this.#parts.capture?.destroy(new Error('shutdown timeout'));
      }, timeoutMs);
    let timer = complete ? undefined : arm();
    let heldLost: HeldLost = [];
    try {
      await stopIntake(this.#parts, this.#snapshots);
      await drainQueues(this.#parts, this.#log);
      heldLost = await finishHeldFrames(this.#parts, {
        complete,
        timeoutMs,
        startedMs,
        onDeidProgress: options.onDeidProgress,
      });
      timer ??= arm();
      await closeOpenChunk(this.#parts);
      await closeSessionRecord(this.#parts, {
        reason,
        heldLost,
        ledger: this.ledger,
        topicOf: new Map(this.streams.map((s) => [s.name, s.topic])),
        settle: (session) => this.#settleSession(session),
      });
    } finally {
      clearTimeout(timer);
      await this.#closeServices();
    }
    this.#log.info({ sessionId: this.sessionId, chunks: this.sessionChunks }, 'capture stopped');
  }

  /**
   * Signs what a full disk left unsigned in this session (abandoned partials, chunks whose catalog
   * row or record failed). False when that fails: the session then stays open, because a chunk
   * signed after the close record never verifies; the next start's recovery signs and closes it.
   */
  async #settleSession(session: SessionRecorder): Promise<boolean> {
    const { sessionId } = session;
    try {
      session.chunks += await settleSession({ ...this.#recoveryOptions(), sessionId });
      return true;
    } catch (err) {
      const code = isRigcapError(err) ? err.code : (errnoCode(err) ?? 'RIGCAP_INTERNAL');
      this.noteError(code, String(err));
      this.#log.error(
        { sessionId, code, err },
        'could not sign what the session left unsigned; leaving it open for the next start',
      );
      return false;
    }
  }

  async #closeServices(): Promise<void> {
    await closeServices(this.#parts, this.#services);
  }

  /** Abandons everything now (the open chunk stays as `.partial` for salvage). Idempotent. */
  async destroy(err?: Error): Promise<void> {
    for (const d of this.#parts.drivers) d.destroy(err);
    this.#parts.capture?.destroy(err);
    this.#parts.session?.writer.destroy();
    this.#parts.deid?.destroy();
    this.#parts.clock?.destroy();
    await this.#closeServices();
  }
}
