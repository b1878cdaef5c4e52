// The Agent's start, phase by phase. Each phase takes what it needs and records what it builds in
// `AgentParts` as soon as it exists, so a start that fails halfway tears down exactly what it built.
import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';
import type { Driver, Sample } from '../drivers/types.ts';
import { createDrivers } from '../drivers/registry.ts';
import { isDriverError } from '../drivers/errors.ts';
import type { Agent, AgentOptions } from './agent.ts';
import { CalibrationRegistry, openSpoolCalibrationHistory } from './calib/index.ts';
import { Catalog } from './catalog/catalog.ts';
import type { RigcapConfig, StreamConfig } from './config/types.ts';
import { DeidStage } from './deid/stage.ts';
import { RigcapError, errnoCode, isRigcapError, type ErrorCode } from './errors.ts';
import { RecordSealer } from './keys/record-sealer.ts';
import type { Logger } from './log.ts';
import { isFolderFailure, makeFolder } from './ops/folders.ts';
import { Capture, type SampleTransform } from './pipeline/capture.ts';
import { isImageStream } from './pipeline/image-streams.ts';
import type { ChunkSealOptions } from './pipeline/seal.ts';
import { SessionRecorder, type SessionRecorderOptions } from './session-recorder.ts';
import { claimSpool } from './spool-claim.ts';
import { DiskBudget } from './sync/disk-budget.ts';
import { createClockStateTracker, type ClockStateTracker } from './timesync/index.ts';

/** Everything a running Agent is made of; filled in by the start phases in start order. */
export interface AgentParts {
  catalog?: Catalog | undefined;
  disk?: DiskBudget;
  sealer?: RecordSealer;
  calib?: CalibrationRegistry;
  clock?: ClockStateTracker;
  deid?: DeidStage;
  drivers: Driver[];
  session?: SessionRecorder;
  capture?: Capture;
  heartbeat?: NodeJS.Timeout;
  /** Run last at teardown, in the order added (spool claim, calibration history). */
  closers: Array<() => void>;
}

/** What every phase reads: the frozen config, the Agent's options, its logger and error list. */
export interface StartContext {
  config: Readonly<RigcapConfig>;
  opts: AgentOptions;
  /** The Agent's own child logger. */
  log: Logger;
  noteError: Agent['noteError'];
}

/** Phase 1: spool folders, the one-process claim, catalog, disk budget, then the signing keys. */
export async function openSpoolAndKeys(
  ctx: StartContext,
  parts: AgentParts,
): Promise<{ catalog: Catalog; sealer: RecordSealer }> {
  const { config, opts } = ctx;
  const spool = config.spool.dir;
  prepareSpool(spool);
  // One live rigcap per spool: nothing below may touch a spool another process still writes.
  const claim = await claimSpool(spool, { log: opts.log });
  parts.closers.push(() => claim.release());
  const catalog = Catalog.open({ path: join(spool, 'catalog.sqlite'), logger: opts.log });
  parts.catalog = catalog;
  const disk = new DiskBudget({
    spoolDir: spool,
    budgetBytes: config.spool.budgetBytes,
    minFreeBytes: config.spool.minFreeBytes,
    log: opts.log,
    onChange: (snap) => {
      if (snap.pressure !== 'ok')
        ctx.noteError(
          'RIGCAP_DISK_FULL',
          `disk budget: ${snap.pressure} (${snap.usedBytes} of ${snap.budgetBytes} bytes used, ${snap.freeBytes} free)`,
        );
    },
  });
  parts.disk = disk;
  await disk.check();
  disk.start({ intervalMs: 2000 });
  const sealer = await RecordSealer.open({
    rootDir: spool,
    keysDir: config.keys.dir,
    signerId: config.rig.id,
    log: opts.log,
    keyPolicy: 'create-if-missing',
  });
  parts.sealer = sealer;
  return { catalog, sealer };
}

/** Phase 3: calibration (history in the spool), the clock-state probe, and de-id (self-tested). */
export async function startPipeline(
  ctx: StartContext,
  parts: AgentParts,
  signal: AbortSignal,
): Promise<void> {
  const { config, opts } = ctx;
  const calibHistory = openSpoolCalibrationHistory(config.spool.dir, { readonly: false });
  parts.closers.push(() => calibHistory.close());
  parts.calib = new CalibrationRegistry({ logger: opts.log, store: calibHistory.store });
  await parts.calib.load(config.calibration.files);
  signal.throwIfAborted();
  parts.clock = createClockStateTracker(config.timesync, {
    logger: opts.log,
    ...(opts.chronycArgs === undefined ? {} : { chronycArgs: opts.chronycArgs }),
  });
  parts.clock.start();

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
    parts.deid = new DeidStage({
      config: config.deid,
      log: opts.log,
      exemptStreams: imageStreams.filter((s) => s.deid.exempt).map((s) => s.name),
      ...(opts.deidWorkerUrl === undefined ? {} : { workerUrl: opts.deidWorkerUrl }),
    });
    // Self-test on a shipped image: refuses to start capture of image streams if it finds nothing.
    await parts.deid.start();
  }
}

/** What the capture phase needs from the Agent besides the parts built so far. */
export type CaptureCollaborators = Pick<
  SessionRecorderOptions,
  'streams' | 'ledger' | 'snapshots' | 'deidTotals' | 'extraTransforms' | 'marks'
> & { sealOptions: () => ChunkSealOptions };

/**
 * Phase 4: drivers are created, the session opens (signed open record, chunk writer), drivers open
 * one by one (READY after the first), then capture starts with spill-mode holding ready.
 */
export async function startCapture(
  ctx: StartContext,
  parts: AgentParts,
  signal: AbortSignal,
  c: CaptureCollaborators,
): Promise<void> {
  const { config, opts } = ctx;
  const create = opts.createDrivers ?? createDrivers;
  try {
    parts.drivers = await create(config.streams, { log: opts.log, ros2: config.ros2 });
  } catch (err) {
    throw driverFailure(err, 'registry', 'be created');
  }
  signal.throwIfAborted();
  const session = await SessionRecorder.open({
    ...c,
    config,
    drivers: parts.drivers,
    catalog: parts.catalog!,
    sealer: parts.sealer!,
    calib: parts.calib!,
    clock: parts.clock!,
    deid: parts.deid,
    log: opts.log,
  });
  parts.session = session;
  await openDrivers(ctx, parts.drivers, session, signal);
  const { deid, disk } = parts;
  const capture = new Capture({
    streams: config.streams,
    drivers: parts.drivers,
    sink: {
      write: (sample: Sample) => session.write(sample),
      writeBatch: (samples, from) => session.writeBatch(samples, from),
    },
    ledger: c.ledger,
    log: opts.log,
    transformFor: (s) => transformFor(s, deid),
    transformWindow: deid?.window ?? Math.max(2, config.deid.workers),
    onWriteError: (err) => writeErrorCause(err, { disk, noteError: ctx.noteError }),
    admit: (s) => admit(s, disk, config.spool.onBudget),
    resolveStream: (sample) => session.discovered(sample),
    gateFor: (s) => c.snapshots.gateFor(s),
  });
  parts.capture = capture;
  // Spill mode: frames de-id cannot take in time are sealed in the session's holding area.
  await deid?.beginHolding({
    spoolDir: config.spool.dir,
    sessionId: session.sessionId,
    budgetBytes: Math.min(config.deid.holdingBytes, config.spool.budgetBytes),
    deliver: (sample) => capture.writeLate(sample),
    drop: (stream, cause) => c.ledger.drop(stream, cause),
  });
  capture.start();
}

async function openDrivers(
  ctx: StartContext,
  drivers: readonly Driver[],
  session: SessionRecorder,
  signal: AbortSignal,
): Promise<void> {
  for (const d of drivers) {
    try {
      await d.open(signal);
    } catch (err) {
      throw driverFailure(err, d.name, 'open');
    }
    session.registerSchemas(d.schemas());
    if (d === drivers[0]) ctx.opts.onReady?.();
  }
  for (const s of ctx.config.streams) {
    if (!session.isRegistered(s.name))
      ctx.log.warn(
        { stream: s.name },
        'no schema known yet for stream; it joins the chunk when its driver reports one',
      );
  }
}

/** Phase 5: services beside capture: the calibration watch (a change rotates the chunk) and heartbeats. */
export function startServices(
  ctx: StartContext,
  parts: AgentParts,
  c: { signal: AbortSignal; status: () => { sessionId: string | null; chunks: number; written: number } },
): void {
  const { config, log } = ctx;
  if (config.calibration.files.length > 0 && config.calibration.watchIntervalMs > 0) {
    parts.calib!.watch({
      intervalMs: config.calibration.watchIntervalMs,
      signal: c.signal,
      onChange: (change) => {
        log.info(
          { sensors: change.changedSensors, rigDigest: change.current.rigDigest },
          'calibration changed; starting a new chunk',
        );
        void parts.session?.writer
          .rotate('calibration-change')
          .catch((err: unknown) => log.error({ err }, 'rotate failed'));
      },
      onInvalid: (err) => ctx.noteError(err.code, err.message),
    });
  }
  parts.heartbeat = setInterval(() => {
    void parts.sealer
      ?.heartbeat({ status: c.status() })
      .catch((err: unknown) => log.error({ err }, 'heartbeat failed'));
  }, config.ops.heartbeatIntervalMs);
  parts.heartbeat.unref();
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

function transformFor(stream: StreamConfig, deid: DeidStage | undefined): SampleTransform | undefined {
  if (!isImageStream(stream) || stream.deid.exempt) return undefined;
  // Fail closed: an image stream with no de-id stage is never written raw.
  if (deid === undefined) return () => Promise.resolve({ kind: 'dropped', cause: 'deid_failed' });
  return (sample) => deid.process(sample);
}

function writeErrorCause(
  err: unknown,
  o: { disk: DiskBudget | undefined; noteError: StartContext['noteError'] },
): 'disk_full' | 'write_error' {
  const code = isRigcapError(err) ? err.code : errnoCode(err);
  o.noteError(String(code ?? 'RIGCAP_INTERNAL'), String(err));
  if (code === 'RIGCAP_DISK_FULL' || code === 'ENOSPC') {
    // Pause capture until the budget check finds room again; committed chunks are untouched.
    o.disk?.reportEnospc();
    return 'disk_full';
  }
  return 'write_error';
}

/** Disk budget admission: shed low-priority streams first (unless the policy is pause), then pause. */
function admit(
  stream: StreamConfig,
  disk: DiskBudget | undefined,
  onBudget: RigcapConfig['spool']['onBudget'],
): 'disk_budget' | undefined {
  if (disk === undefined) return undefined;
  const snap = disk.snapshot();
  if (snap.pressure === 'ok') return undefined;
  if (snap.pressure === 'shed' && onBudget === 'pause') return undefined;
  return disk.admits(stream.priority) ? undefined : 'disk_budget';
}
