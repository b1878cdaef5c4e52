// One capture session's write side: the ChunkWriter with its open/close hooks, the streams it
// records (configured and discovered at run time), and what a committed chunk becomes (a catalog
// row, de-id totals, a signed record with the chunk's clock state, calibration and lineage).
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { Driver, Sample, StreamSchema } from '../drivers/types.ts';
import type { CalibrationRegistry } from './calib/index.ts';
import type { Catalog } from './catalog/catalog.ts';
import { captureContext } from './config/capture-context.ts';
import { discoveredStreamConfig } from './config/defaults.ts';
import { configSnapshot } from './config/snapshot.ts';
import type { RigcapConfig, StreamConfig } from './config/types.ts';
import type { DeidStage } from './deid/stage.ts';
import type { RecordSealer } from './keys/record-sealer.ts';
import type { Logger } from './log.ts';
import type { BatchWrite, ChunkMetadata, CommittedChunk } from './pipeline/chunk-types.ts';
import { ChunkWriter } from './pipeline/chunk-writer.ts';
import { GeofenceTracker, type ChunkGeofences } from './pipeline/geofence-tracker.ts';
import { isImageStream } from './pipeline/image-streams.ts';
import type { StreamLedger } from './pipeline/ledger.ts';
import type { SnapshotGates } from './pipeline/snapshot-gates.ts';
import { sealCommittedChunk, type ChunkSealOptions } from './pipeline/seal.ts';
import type { TimesyncSummary as RecordTimesync, TransformLineage } from './records/predicates.ts';
import {
  timesyncMetadata,
  timesyncMetadataName,
  unknownClockSummary,
  type ClockStateTracker,
} from './timesync/index.ts';
import { rigcapVersion } from './version.ts';

/** Session ids sort by start time and are safe as folder names: `20261125T204501Z-3f9a1c`. */
export function newSessionId(now: Date = new Date()): string {
  const stamp = now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  return `${stamp}-${randomBytes(3).toString('hex')}`;
}

/** De-identification totals over a run (summed from each chunk's lineage). */
export interface DeidTotals {
  framesIn: number;
  framesWithDetections: number;
  faces: number;
  plates: number;
  failed: number;
  dropped: number;
}

export interface SessionRecorderOptions {
  config: Readonly<RigcapConfig>;
  /** Configured streams; streams discovered at run time are appended to this same array. */
  streams: StreamConfig[];
  drivers: readonly Driver[];
  catalog: Catalog;
  sealer: RecordSealer;
  calib: CalibrationRegistry;
  clock: ClockStateTracker;
  deid: DeidStage | undefined;
  ledger: StreamLedger;
  snapshots: SnapshotGates;
  log: Logger;
  /** Lineage entries added to every chunk record. */
  extraTransforms: readonly TransformLineage[];
  sealOptions: () => ChunkSealOptions;
  /** Added to as each chunk's de-id lineage is taken. */
  deidTotals: DeidTotals;
  /** Event-marker metadata waiting for the open chunk; taken when that chunk closes. */
  marks: ChunkMetadata[];
}

/** The open session: writes samples into chunks and signs each chunk it commits. */
export class SessionRecorder {
  readonly sessionId: string;
  readonly writer: ChunkWriter;
  /** Chunks committed in this session (including those signed when the session settles). */
  chunks = 0;
  readonly #o: SessionRecorderOptions;
  readonly #log: Logger;
  readonly #registered = new Set<string>();
  /** SHA-256 of each registered stream's message definition, for the chunk records. */
  readonly #schemaDigests = new Map<string, string>();
  /** GNSS fixes against `policy.geofences` (undefined without geofences). */
  readonly #geofences: GeofenceTracker | undefined;
  #pendingTimesync: RecordTimesync | undefined;
  #pendingFences: ChunkGeofences | undefined;

  /** Opens the session in the catalog and the chain (signed open record), then its writer. */
  static async open(o: SessionRecorderOptions): Promise<SessionRecorder> {
    const sessionId = newSessionId();
    const startNs = BigInt(Date.now()) * 1_000_000n;
    o.catalog.openSession({ id: sessionId, rigId: o.config.rig.id, startedNs: startNs });
    await o.sealer.openSession({
      sessionId,
      rigId: o.config.rig.id,
      startNs,
      context: captureContext(o.config),
      producer: { rigcapVersion, configDigest: o.sealOptions().configDigest },
      config: configSnapshot(o.config),
    });
    return new SessionRecorder(o, sessionId);
  }

  private constructor(o: SessionRecorderOptions, sessionId: string) {
    this.#o = o;
    this.#log = o.log.child({ component: 'agent' });
    this.sessionId = sessionId;
    const fences = o.config.policy.geofences;
    this.#geofences =
      fences.length === 0
        ? undefined
        : new GeofenceTracker({
            fences,
            gnssStreams: o.streams
              .filter((s) => s.type === 'sensor_msgs/msg/NavSatFix' && s.encoding === 'cdr')
              .map((s) => s.name),
          });
    const { calib, clock } = o;
    this.writer = new ChunkWriter({
      spoolDir: o.config.spool.dir,
      sessionId,
      chunking: o.config.chunking,
      logger: o.log,
      library: `rigcap ${rigcapVersion}`,
      hooks: {
        atOpen: () => ({ attachments: calib.attachments() }),
        beforeClose: (info) => {
          const summary = clock.takeWindow(info.startNs, info.endNs);
          this.#pendingTimesync = summary;
          // Fixes observed as their samples entered this file (commits run behind the writes, so
          // by onCommit the next file's fixes may be in the tracker too).
          this.#pendingFences = this.#geofences?.takeChunk();
          const marks = o.marks.splice(0);
          return {
            metadata: [
              { name: timesyncMetadataName, metadata: Object.fromEntries(timesyncMetadata(summary)) },
              ...marks,
            ],
          };
        },
      },
      onCommit: (chunk) => this.#onCommit(chunk),
      ...(this.#geofences === undefined
        ? {}
        : { onSampleAdded: (sample: Sample) => this.#geofences?.observe(sample) }),
    });
  }

  /** True once the stream has a channel in the chunk (its schema is known). */
  isRegistered(stream: string): boolean {
    return this.#registered.has(stream);
  }

  /** Adds a channel for every configured stream a driver now knows the schema of. */
  registerSchemas(schemas: ReadonlyMap<string, StreamSchema>): void {
    for (const [name, schema] of schemas) {
      const stream = this.#o.streams.find((s) => s.name === name);
      if (stream === undefined || this.#registered.has(name)) continue;
      this.writer.addStream({
        name,
        topic: stream.topic,
        schema,
        latched: stream.latched,
        ...(schema.channelMetadata?.['offered_qos_profiles'] === undefined
          ? {}
          : { qos: schema.channelMetadata['offered_qos_profiles'] }),
      });
      this.#registered.add(name);
      this.#schemaDigests.set(name, createHash('sha256').update(schema.data).digest('hex'));
    }
  }

  write(sample: Sample): Promise<void> {
    if (!this.#registered.has(sample.stream)) {
      for (const d of this.#o.drivers) this.registerSchemas(d.schemas());
    }
    return this.writer.write(sample);
  }

  writeBatch(samples: readonly Sample[], from: number): Promise<BatchWrite> {
    for (let i = from; i < samples.length; i++) {
      if (!this.#registered.has(samples[i]!.stream)) {
        for (const d of this.#o.drivers) this.registerSchemas(d.schemas());
        break;
      }
    }
    return this.writer.writeBatch(samples, from);
  }

  /** A stream a driver discovered at run time: defaults for queue and limits, schema from the driver. */
  discovered(sample: Sample): StreamConfig | undefined {
    for (const d of this.#o.drivers) {
      const schema = d.schemas().get(sample.stream);
      if (schema === undefined) continue;
      const info = (d as Partial<{ streams(): Array<{ stream: string; latched: boolean }> }>)
        .streams?.()
        .find((x) => x.stream === sample.stream);
      const stream = discoveredStreamConfig(sample, { latched: info?.latched ?? false });
      this.#o.streams.push(stream);
      this.registerSchemas(d.schemas());
      this.#log.info(
        { stream: stream.name, topic: stream.topic, type: stream.type },
        'recording discovered topic',
      );
      return stream;
    }
    return undefined;
  }

  async #onCommit(chunk: CommittedChunk): Promise<void> {
    const o = this.#o;
    const window = o.ledger.takeWindow();
    o.catalog.addChunk(chunk, {
      relativePath: join('sessions', chunk.sessionId, chunk.name),
      origin: 'writer',
      drops: dropsOf(window),
    });
    this.chunks += 1;
    const deidLineage = o.deid?.takeLineage();
    if (deidLineage !== undefined) {
      const t = o.deidTotals;
      t.framesIn += deidLineage.frames.in;
      t.framesWithDetections += deidLineage.frames.withDetections;
      t.failed += deidLineage.frames.failed;
      t.dropped += deidLineage.frames.dropped;
      t.faces += deidLineage.boxes.face;
      t.plates += deidLineage.boxes.plate;
    }
    const fences = this.#pendingFences;
    this.#pendingFences = undefined;
    await sealCommittedChunk(o.sealOptions(), chunk, {
      window,
      ...(fences === undefined ? {} : { regions: fences.regions, outsideGeofences: fences.outside }),
      timesync: this.#pendingTimesync ?? unknownClockSummary(chunk),
      calibration: o.calib.refs(),
      transforms: this.#transforms(deidLineage),
      schemaDigests: this.#schemaDigests,
    });
    this.#pendingTimesync = undefined;
  }

  /** Lineage entries for a chunk record: de-id as done, or the image streams exempt from it. */
  #transforms(deid: ReturnType<DeidStage['takeLineage']> | undefined): TransformLineage[] {
    const extra = [...this.#o.extraTransforms, ...this.#o.snapshots.takeWindows()];
    if (deid !== undefined) return [...extra, { kind: 'de-identification', ...deid }];
    const exempt = this.#o.streams.filter((s) => isImageStream(s) && s.deid.exempt).map((s) => s.name);
    return exempt.length === 0
      ? [...extra]
      : [...extra, { kind: 'de-identification', enabled: false, exemptStreams: exempt }];
  }
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
