// The Agent: builds the capture pipeline from a validated config and runs it. Start order:
// spool → catalog → recovery (salvage, reconcile, sign leftovers) → keys/chain → calibration →
// clock → de-id → session → writer → drivers (READY after the first opens). Stop order is fixed:
// stop intake → drain queues → close chunk (seal) → close session → flush catalog → stop services.
import { randomBytes } from 'node:crypto';
import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';
import type { Driver, Sample, StreamSchema } from '../drivers/types.ts';
import { createDrivers } from '../drivers/registry.ts';
import { isDriverError } from '../drivers/errors.ts';
import { CalibrationRegistry, openSpoolCalibrationHistory } from './calib/index.ts';
import { Catalog } from './catalog/catalog.ts';
import type { RigcapConfig, StreamConfig } from './config/types.ts';
import { DeidStage } from './deid/stage.ts';
import { isFolderFailure, makeFolder } from './ops/folders.ts';
import { closeGaps } from './close-gaps.ts';
import { RigcapError, errnoCode, isRigcapError, type ErrorCode } from './errors.ts';
import { RecordSealer } from './keys/record-sealer.ts';
import type { Logger } from './log.ts';
import { Capture, type SampleTransform } from './pipeline/capture.ts';
import type { BatchWrite, ChunkMetadata, CommittedChunk } from './pipeline/chunk-types.ts';
import { ChunkWriter } from './pipeline/chunk-writer.ts';
import { isImageStream } from './pipeline/image-streams.ts';
import { StreamLedger } from './pipeline/ledger.ts';
import { SnapshotGates } from './pipeline/snapshot-gates.ts';
import { sealCommittedChunk, type ChunkSealOptions } from './pipeline/seal.ts';
import { recoverSpool, settleSession } from './recovery.ts';
import { claimSpool } from './spool-claim.ts';
import { discoveredStreamConfig } from './config/defaults.ts';
import {
  createClockStateTracker,
  unknownClockSummary,
  timesyncMetadata,
  timesyncMetadataName,
  type ClockStateTracker,
} from './timesync/index.ts';
import type { TimesyncSummary as RecordTimesync, TransformLineage } from './records/predicates.ts';
import { DiskBudget } from './sync/disk-budget.ts';
import { rigcapVersion } from './version.ts';

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

/** Session ids sort by start time and are safe as folder names: `20261125T204501Z-3f9a1c`. */
export function newSessionId(now: Date = new Date()): string {
  const stamp = now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  return `${stamp}-${randomBytes(3).toString('hex')}`;
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
  readonly #opts: AgentOptions;
  readonly #log: Logger;
  #catalog: Catalog | undefined;
  #sealer: RecordSealer | undefined;
  #calib: CalibrationRegistry | undefined;
  #clock: ClockStateTracker | undefined;
  #deid: DeidStage | undefined;
  #writer: ChunkWriter | undefined;
  #capture: Capture | undefined;
  #drivers: Driver[] = [];
  #sessionId: string | undefined;
  #sessionChunks = 0;
  #heartbeat: NodeJS.Timeout | undefined;
  #disk: DiskBudget | undefined;
  readonly #services = new AbortController();
  #started = false;
  readonly #closers: Array<() => void> = [];
  #stopping: Promise<void> | undefined;

  constructor(opts: AgentOptions) {
    this.#opts = opts;
    this.config = opts.config;
    this.streams = [...opts.config.streams];
    this.#log = opts.log.child({ component: 'agent' });
  }

  get sessionId(): string | undefined {
    return this.#sessionId;
  }
  get sessionChunks(): number {
    return this.#sessionChunks;
  }
  get catalog(): Catalog | undefined {
    return this.#catalog;
  }
  get sealer(): RecordSealer | undefined {
    return this.#sealer;
  }
  get deid(): DeidStage | undefined {
    return this.#deid;
  }
  get clock(): ClockStateTracker | undefined {
    return this.#clock;
  }
  get diskBudget(): DiskBudget | undefined {
    return this.#disk;
  }
  get calibration(): CalibrationRegistry | undefined {
    return this.#calib;
  }
  /** Samples written so far (the watchdog's progress signal). */
  get progress(): number {
    return this.#capture?.progress ?? 0;
  }
  /** Resolves when every driver has run out of samples (replay reached the end of its files). */
  async intakeEnded(): Promise<void> {
    await this.#capture?.intakeEnded();
  }

  /** True when no samples wait in any queue (an idle rig is not a stuck one). */
  queuesEmpty(): boolean {
    return this.streams.every((s) => this.queueDepth(s.name) === 0);
  }
  queueDepth(stream: string): number {
    return this.#capture?.queueDepth(stream) ?? 0;
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
    const { config } = this;
    const spool = config.spool.dir;
    prepareSpool(spool);
    // One live rigcap per spool: nothing below may touch a spool another process still writes.
    const claim = await claimSpool(spool, { log: this.#opts.log });
    this.#closers.push(() => claim.release());
    this.#catalog = Catalog.open({ path: join(spool, 'catalog.sqlite'), logger: this.#opts.log });
    this.#disk = new DiskBudget({
      spoolDir: spool,
      budgetBytes: config.spool.budgetBytes,
      minFreeBytes: config.spool.minFreeBytes,
      log: this.#opts.log,
      onChange: (snap) => {
        if (snap.pressure !== 'ok')
          this.noteError(
            'RIGCAP_DISK_FULL',
            `disk budget: ${snap.pressure} (${snap.usedBytes} of ${snap.budgetBytes} bytes used, ${snap.freeBytes} free)`,
          );
      },
    });
    await this.#disk.check();
    this.#disk.start({ intervalMs: 2000 });
    this.#sealer = await RecordSealer.open({
      rootDir: spool,
      keysDir: config.keys.dir,
      signerId: config.rig.id,
      log: this.#opts.log,
      keyPolicy: 'create-if-missing',
    });
    await recoverSpool({
      catalog: this.#catalog,
      sealer: this.#sealer,
      spoolDir: spool,
      rigId: config.rig.id,
      log: this.#opts.log,
      sealOptions: () => this.#sealOptions(),
      noteError: (code, message) => this.noteError(code, message),
    });
    signal.throwIfAborted();

    const calibHistory = openSpoolCalibrationHistory(spool, { readonly: false });
    this.#closers.push(() => calibHistory.close());
    this.#calib = new CalibrationRegistry({ logger: this.#opts.log, store: calibHistory.store });
    await this.#calib.load(config.calibration.files);
    signal.throwIfAborted();
    this.#clock = createClockStateTracker(config.timesync, {
      logger: this.#opts.log,
      ...(this.#opts.chronycArgs === undefined ? {} : { chronycArgs: this.#opts.chronycArgs }),
    });
    this.#clock.start();

    const imageStreams = config.streams.filter((s) => isImageStream(s));
    const redacted = imageStreams.filter((s) => !s.deid.exempt);
    // With ROS 2 discovery, image topics may appear later: de-id must be ready for them too.
    if (redacted.length > 0 || (config.ros2.enabled && config.deid.enabled)) {
      if (!config.deid.enabled) {
        throw new RigcapError(
          'RIGCAP_CONFIG_INVALID',
          `image streams ${redacted.map((s) => s.name).join(', ')} need de-identification but deid.enabled is false; mark them deid.exempt or enable deid`,
        );
      }
      this.#deid = new DeidStage({
        config: config.deid,
        log: this.#opts.log,
        exemptStreams: imageStreams.filter((s) => s.deid.exempt).map((s) => s.name),
        ...(this.#opts.deidWorkerUrl === undefined ? {} : { workerUrl: this.#opts.deidWorkerUrl }),
      });
      // Self-test on a shipped image: refuses to start capture of image streams if it finds nothing.
      await this.#deid.start();
    }
    signal.throwIfAborted();

    const create = this.#opts.createDrivers ?? createDrivers;
    try {
      this.#drivers = await create(config.streams, { log: this.#opts.log, ros2: config.ros2 });
    } catch (err) {
      throw driverFailure(err, 'registry', 'be created');
    }
    signal.throwIfAborted();
    await this.#openSession();
    const writer = this.#writer!;
    for (const d of this.#drivers) {
      try {
        await d.open(signal);
      } catch (err) {
        throw driverFailure(err, d.name, 'open');
      }
      this.#registerSchemas(d.schemas());
      if (d === this.#drivers[0]) this.#opts.onReady?.();
    }
    for (const s of config.streams) {
      if (!this.#registered.has(s.name))
        this.#log.warn(
          { stream: s.name },
          'no schema known yet for stream; it joins the chunk when its driver reports one',
        );
    }
    this.#capture = new Capture({
      streams: config.streams,
      drivers: this.#drivers,
      sink: {
        write: (sample: Sample) => this.#writeSample(sample),
        writeBatch: (samples, from) => this.#writeSamples(samples, from),
      },
      ledger: this.ledger,
      log: this.#opts.log,
      transformFor: (s) => this.#transformFor(s),
      transformWindow: this.#deid?.window ?? Math.max(2, config.deid.workers),
      onWriteError: (err) => this.#onWriteError(err),
      admit: (s) => this.#admit(s),
      resolveStream: (sample) => this.#discovered(sample),
      gateFor: (s) => this.#snapshots.gateFor(s),
    });
    // Spill mode: frames de-id cannot take in time are sealed in the session's holding area.
    const capture = this.#capture;
    await this.#deid?.beginHolding({
      spoolDir: config.spool.dir,
      sessionId: this.#sessionId!,
      budgetBytes: Math.min(config.deid.holdingBytes, config.spool.budgetBytes),
      deliver: (sample) => capture.writeLate(sample),
      drop: (stream, cause) => this.ledger.drop(stream, cause),
    });
    this.#capture.start();
    void writer;

    if (config.calibration.files.length > 0 && config.calibration.watchIntervalMs > 0) {
      this.#calib.watch({
        intervalMs: config.calibration.watchIntervalMs,
        signal: this.#services.signal,
        onChange: (change) => {
          this.#log.info(
            { sensors: change.changedSensors, rigDigest: change.current.rigDigest },
            'calibration changed; starting a new chunk',
          );
          void this.#writer
            ?.rotate('calibration-change')
            .catch((err: unknown) => this.#log.error({ err: String(err) }, 'rotate failed'));
        },
        onInvalid: (err) => this.noteError(err.code, err.message),
      });
    }
    this.#heartbeat = setInterval(() => {
      void this.#sealer
        ?.heartbeat({
          status: { sessionId: this.#sessionId ?? null, chunks: this.#sessionChunks, written: this.progress },
        })
        .catch((err: unknown) => this.#log.error({ err: String(err) }, 'heartbeat failed'));
    }, config.ops.heartbeatIntervalMs);
    this.#heartbeat.unref();
    this.#log.info(
      { sessionId: this.#sessionId, streams: config.streams.length, drivers: this.#drivers.length },
      'capture started',
    );
  }

  readonly #registered = new Set<string>();
  #registerSchemas(schemas: ReadonlyMap<string, StreamSchema>): void {
    for (const [name, schema] of schemas) {
      const stream = this.streams.find((s) => s.name === name);
      if (stream === undefined || this.#registered.has(name)) continue;
      this.#writer!.addStream({
        name,
        topic: stream.topic,
        schema,
        latched: stream.latched,
        ...(schema.channelMetadata?.['offered_qos_profiles'] === undefined
          ? {}
          : { qos: schema.channelMetadata['offered_qos_profiles'] }),
      });
      this.#registered.add(name);
    }
  }

  #writeSample(sample: Sample): Promise<void> {
    if (!this.#registered.has(sample.stream)) {
      for (const d of this.#drivers) this.#registerSchemas(d.schemas());
    }
    return this.#writer!.write(sample);
  }

  #writeSamples(samples: readonly Sample[], from: number): Promise<BatchWrite> {
    for (let i = from; i < samples.length; i++) {
      if (!this.#registered.has(samples[i]!.stream)) {
        for (const d of this.#drivers) this.#registerSchemas(d.schemas());
        break;
      }
    }
    return this.#writer!.writeBatch(samples, from);
  }

  #transformFor(stream: StreamConfig): SampleTransform | undefined {
    if (!isImageStream(stream) || stream.deid.exempt) return undefined;
    const deid = this.#deid;
    // Fail closed: an image stream with no de-id stage is never written raw.
    if (deid === undefined) return () => Promise.resolve({ kind: 'dropped', cause: 'deid_failed' });
    return (sample) => deid.process(sample);
  }

  /** A stream a driver discovered at run time: defaults for queue and limits, schema from the driver. */
  #discovered(sample: Sample): StreamConfig | undefined {
    for (const d of this.#drivers) {
      const schema = d.schemas().get(sample.stream);
      if (schema === undefined) continue;
      const info = (d as Partial<{ streams(): Array<{ stream: string; latched: boolean }> }>)
        .streams?.()
        .find((x) => x.stream === sample.stream);
      const stream = discoveredStreamConfig(sample, { latched: info?.latched ?? false });
      this.streams.push(stream);
      this.#registerSchemas(d.schemas());
      this.#log.info(
        { stream: stream.name, topic: stream.topic, type: stream.type },
        'recording discovered topic',
      );
      return stream;
    }
    return undefined;
  }

  #onWriteError(err: unknown): 'disk_full' | 'write_error' {
    const code = isRigcapError(err) ? err.code : errnoCode(err);
    this.noteError(String(code ?? 'RIGCAP_INTERNAL'), String(err));
    if (code === 'RIGCAP_DISK_FULL' || code === 'ENOSPC') {
      // Pause capture until the budget check finds room again; committed chunks are untouched.
      this.#disk?.reportEnospc();
      return 'disk_full';
    }
    return 'write_error';
  }

  /** Disk budget admission: shed low-priority streams first (unless the policy is pause), then pause. */
  #admit(stream: StreamConfig): 'disk_budget' | undefined {
    const disk = this.#disk;
    if (disk === undefined) return undefined;
    const snap = disk.snapshot();
    if (snap.pressure === 'ok') return undefined;
    if (snap.pressure === 'shed' && this.config.spool.onBudget === 'pause') return undefined;
    return disk.admits(stream.priority) ? undefined : 'disk_budget';
  }

  #sealOptions(): ChunkSealOptions {
    return {
      config: this.config,
      streams: this.streams,
      configDigest: this.#opts.configDigest,
      rigcapVersion,
      sealer: this.#sealer!,
      catalog: this.#catalog!,
      log: this.#opts.log,
    };
  }

  async #openSession(): Promise<void> {
    const sessionId = newSessionId();
    const startNs = BigInt(Date.now()) * 1_000_000n;
    this.#sessionId = sessionId;
    this.#catalog!.openSession({ id: sessionId, rigId: this.config.rig.id, startedNs: startNs });
    await this.#sealer!.openSession({ sessionId, rigId: this.config.rig.id, startNs });
    const calib = this.#calib!;
    const clock = this.#clock!;
    this.#writer = new ChunkWriter({
      spoolDir: this.config.spool.dir,
      sessionId,
      chunking: this.config.chunking,
      logger: this.#opts.log,
      library: `rigcap ${rigcapVersion}`,
      hooks: {
        atOpen: () => ({ attachments: calib.attachments() }),
        beforeClose: (info) => {
          const summary = clock.takeWindow(info.startNs, info.endNs);
          this.#pendingTimesync = summary;
          const marks = this.#pendingMarks.splice(0);
          return {
            metadata: [
              { name: timesyncMetadataName, metadata: Object.fromEntries(timesyncMetadata(summary)) },
              ...marks,
            ],
          };
        },
      },
      onCommit: (chunk) => this.#onCommit(chunk),
    });
  }

  #pendingTimesync: RecordTimesync | undefined;
  /** De-identification totals over this run (summed from each chunk's lineage). */
  readonly deidTotals = { framesIn: 0, framesWithDetections: 0, faces: 0, plates: 0, failed: 0, dropped: 0 };
  readonly #pendingMarks: ChunkMetadata[] = [];

  /** An event marker: MCAP metadata in the open chunk and a signed `event-marker` record. */
  async addMarker(mark: {
    id?: string;
    text: string;
    tags: readonly string[];
    wallNs: bigint;
    monoNs?: bigint;
    metadata: ChunkMetadata;
  }): Promise<number> {
    this.#pendingMarks.push(mark.metadata);
    // Snapshot streams: the marker opens a window; held samples inside it go to the writer now.
    for (const [stream, samples] of this.#snapshots.mark(
      mark.id ?? `${mark.wallNs}`,
      mark.monoNs ?? process.hrtime.bigint(),
    )) {
      this.#capture?.inject(stream, samples);
    }
    const result = await this.#sealer!.markEvent({
      label: mark.text,
      note: mark.tags.join(','),
      atNs: mark.wallNs,
      sessionId: this.#sessionId ?? null,
    });
    return result.seq;
  }

  async #onCommit(chunk: CommittedChunk): Promise<void> {
    const window = this.ledger.takeWindow();
    this.#catalog!.addChunk(chunk, {
      relativePath: join('sessions', chunk.sessionId, chunk.name),
      origin: 'writer',
      drops: dropsOf(window),
    });
    this.#sessionChunks += 1;
    const deidLineage = this.#deid?.takeLineage();
    if (deidLineage !== undefined) {
      const t = this.deidTotals;
      t.framesIn += deidLineage.frames.in;
      t.framesWithDetections += deidLineage.frames.withDetections;
      t.failed += deidLineage.frames.failed;
      t.dropped += deidLineage.frames.dropped;
      t.faces += deidLineage.boxes.face;
      t.plates += deidLineage.boxes.plate;
    }
    await sealCommittedChunk(this.#sealOptions(), chunk, {
      window,
      timesync: this.#pendingTimesync ?? unknownClockSummary(chunk),
      calibration: this.#calib!.refs().map((r) => ({
        sensor: r.sensor,
        digest: r.sha256,
        version: r.version,
      })),
      transforms: this.#transforms(deidLineage),
    });
    this.#pendingTimesync = undefined;
  }

  /** Lineage entries for a chunk record: de-id as done, or the image streams exempt from it. */
  #transforms(deid: ReturnType<DeidStage['takeLineage']> | undefined): TransformLineage[] {
    const extra = [...(this.#opts.extraTransforms ?? []), ...this.#snapshots.takeWindows()];
    if (deid !== undefined) return [...extra, { kind: 'de-identification', ...deid }];
    const exempt = this.streams.filter((s) => isImageStream(s) && s.deid.exempt).map((s) => s.name);
    return exempt.length === 0
      ? [...extra]
      : [...extra, { kind: 'de-identification', enabled: false, exemptStreams: exempt }];
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
        this.#capture?.destroy(new Error('shutdown timeout'));
      }, timeoutMs);
    let timer = complete ? undefined : arm();
    let heldLost: Awaited<ReturnType<DeidStage['finishHolding']>> = [];
    try {
      // 1. stop intake
      await Promise.allSettled(this.#drivers.map((d) => d.close()));
      // Samples still held by snapshot rings were never inside a window: count them, do not lose them silently.
      this.#snapshots.countHeldAsDropped();
      // 2. drain queues into the writer (de-id included)
      await this.#capture
        ?.drain()
        .catch((err: unknown) => this.#log.error({ err: String(err) }, 'drain failed'));
      // 2b. held frames: blurred into the open chunk while the budget allows (a fifth is kept for
      // sealing), the rest deleted unread and counted as a gap
      const lost =
        (await this.#deid?.finishHolding(
          complete
            ? { ...(options.onDeidProgress === undefined ? {} : { onProgress: options.onDeidProgress }) }
            : { deadlineMs: Math.max(0, Math.floor(timeoutMs * 0.8) - (Date.now() - startedMs)) },
        )) ?? [];
      heldLost = lost;
      timer ??= arm();
      // 3. close the open chunk: commit + seal
      await this.#writer?.close();
      // 4. close the session record, once nothing of it is left unsigned
      if (
        this.#sessionId !== undefined &&
        this.#sealer !== undefined &&
        (await this.#settleSession(this.#sessionId))
      ) {
        const endNs = BigInt(Date.now()) * 1_000_000n;
        const gaps = await closeGaps(this.#sealer.store, this.#sessionId, {
          dropWindows: this.ledger.dropWindows.take(),
          heldLost,
          fallbackNs: endNs,
          topicOf: new Map(this.streams.map((s) => [s.name, s.topic])),
        });
        await this.#sealer.closeSession({ sessionId: this.#sessionId, endNs, reason, gaps });
        this.#catalog?.endSession(this.#sessionId, endNs, 'closed');
      }
    } finally {
      clearTimeout(timer);
      await this.#closeServices();
    }
    this.#log.info({ sessionId: this.#sessionId, chunks: this.#sessionChunks }, 'capture stopped');
  }

  /**
   * Signs what a full disk left unsigned in this session (abandoned partials, chunks whose catalog
   * row or record failed). False when that fails: the session then stays open, because a chunk
   * signed after the close record never verifies; the next start's recovery signs and closes it.
   */
  async #settleSession(sessionId: string): Promise<boolean> {
    try {
      this.#sessionChunks += await settleSession({
        catalog: this.#catalog!,
        sealer: this.#sealer!,
        spoolDir: this.config.spool.dir,
        rigId: this.config.rig.id,
        log: this.#opts.log,
        sealOptions: () => this.#sealOptions(),
        noteError: (code, message) => this.noteError(code, message),
        sessionId,
      });
      return true;
    } catch (err) {
      const code = isRigcapError(err) ? err.code : (errnoCode(err) ?? 'RIGCAP_INTERNAL');
      this.noteError(code, String(err));
      this.#log.error(
        { sessionId, code, err: String(err) },
        'could not sign what the session left unsigned; leaving it open for the next start',
      );
      return false;
    }
  }

  async #closeServices(): Promise<void> {
    this.#services.abort();
    if (this.#heartbeat !== undefined) clearInterval(this.#heartbeat);
    this.#disk?.close();
    await this.#deid?.close().catch(() => undefined);
    await this.#clock?.close().catch(() => undefined);
    await this.#sealer?.close().catch(() => undefined);
    this.#catalog?.close();
    this.#catalog = undefined;
    for (const close of this.#closers.splice(0)) close();
  }

  /** Abandons everything now (the open chunk stays as `.partial` for salvage). Idempotent. */
  async destroy(err?: Error): Promise<void> {
    for (const d of this.#drivers) d.destroy(err);
    this.#capture?.destroy(err);
    this.#writer?.destroy();
    this.#deid?.destroy();
    this.#clock?.destroy();
    await this.#closeServices();
  }
}

function prepareSpool(spool: string): void {
  try {
    for (const dir of ['sessions', 'records', 'keys', 'quarantine']) makeFolder(join(spool, dir), 0o777);
    accessSync(spool, constants.W_OK);
  } catch (err) {
    // makeFolder names the level and the real errno (EROFS, EACCES), not recursive mkdir's ENOENT.
    const reason = isFolderFailure(err)
      ? `${err.errno}${err.folder === spool ? '' : ` at ${err.folder}`}`
      : (errnoCode(err) ?? String(err));
    throw new RigcapError('RIGCAP_SPOOL_UNWRITABLE', `spool ${spool} is not writable (${reason})`, {
      cause: isFolderFailure(err) ? err.cause : err,
    });
  }
}

/** A driver's own coded error keeps its code (ROS 2 ones included); anything else is an open failure. */
function driverFailure(err: unknown, driver: string, action: 'open' | 'be created'): RigcapError {
  if (isRigcapError(err)) return err;
  if (isDriverError(err))
    return new RigcapError(err.code as ErrorCode, err.message, { cause: err, details: { driver } });
  const message = err instanceof Error ? err.message : String(err);
  return new RigcapError('RIGCAP_DRIVER_OPEN_FAILED', `driver ${driver} could not ${action}: ${message}`, {
    cause: err,
  });
}

function dropsOf(
  window: ReadonlyMap<string, { drops: Record<string, number | undefined> }>,
): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  for (const [stream, c] of window) {
    const d = Object.fromEntries(
      Object.entries(c.drops).filter((e): e is [string, number] => (e[1] ?? 0) > 0),
    );
    if (Object.keys(d).length > 0) out[stream] = d;
  }
  return out;
}
