// Seal: turns a committed chunk into its capture-chunk record. Gathers what the chunk was captured
// under — per-stream counts and drops since the previous chunk, the clock-state window, the
// calibration refs, the de-id lineage, producer and policy — and hands it to the record sealer,
// then marks the chunk sealed in the catalog.
import { relative } from 'node:path';
import type { Catalog } from '../catalog/catalog.ts';
import { captureContext } from '../config/capture-context.ts';
import type { RigcapConfig } from '../config/types.ts';
import type { RecordSealer } from '../keys/record-sealer.ts';
import type { Logger } from '../log.ts';
import type {
  CalibrationRef,
  StreamSummary,
  TimesyncSummary,
  TransformLineage,
} from '../records/predicates.ts';
import type { CommittedChunk } from './chunk-types.ts';
import type { StreamCounts } from './ledger.ts';

/** What the composition root supplies for each chunk at seal time. */
export interface ChunkContext {
  /** Per-stream counts and drops since the previous chunk. */
  window: ReadonlyMap<string, StreamCounts>;
  timesync: TimesyncSummary;
  calibration: CalibrationRef[];
  transforms: TransformLineage[];
  /** Hex SHA-256 of each stream's message definition (MCAP schema data), by stream name. */
  schemaDigests?: ReadonlyMap<string, string>;
  /** Geofence ids the rig was inside during the chunk (absent when none are configured). */
  regions?: readonly string[];
  /** Windows outside every geofence during the chunk (absent when none are configured). */
  outsideGeofences?: ReadonlyArray<{ startNs: string; endNs: string }>;
}

export interface ChunkSealOptions {
  config: Readonly<RigcapConfig>;
  /** Configured and discovered streams. */
  streams: ReadonlyArray<{ name: string; topic: string; type: string }>;
  configDigest: string;
  rigcapVersion: string;
  sealer: RecordSealer;
  catalog: Catalog;
  log: Logger;
}

/** Builds the per-stream summaries of a chunk: file counts from the writer, drops from the ledger. */
export function streamSummaries(
  chunk: CommittedChunk,
  window: ReadonlyMap<string, StreamCounts>,
  streams: ReadonlyArray<{ name: string; topic: string; type: string }>,
  schemaDigests?: ReadonlyMap<string, string>,
): StreamSummary[] {
  const inFile = new Map(chunk.streams.map((s) => [s.stream, s]));
  const out: StreamSummary[] = [];
  for (const s of streams) {
    const file = inFile.get(s.name);
    const counts = window.get(s.name);
    const drops: Record<string, number> = {};
    let upstreamLoss = 0;
    for (const [cause, n] of Object.entries(counts?.drops ?? {})) {
      if (cause === 'upstream_loss') upstreamLoss += n ?? 0;
      else if (n !== undefined && n > 0) drops[cause] = n;
    }
    if (file === undefined && Object.keys(drops).length === 0 && upstreamLoss === 0) continue;
    const replays = file?.latchedReplays ?? 0;
    out.push({
      topic: s.topic,
      type: file?.type ?? s.type,
      count: file?.count ?? 0,
      drops,
      upstreamLoss,
      ...(replays > 0 ? { latchedReplays: replays } : {}),
      ...(schemaDigests?.has(s.name) === true ? { schemaSha256: schemaDigests.get(s.name)! } : {}),
    });
  }
  return out;
}

/** Signs the capture-chunk record of a committed chunk and marks it sealed; returns the record seq. */
export async function sealCommittedChunk(
  opts: ChunkSealOptions,
  chunk: CommittedChunk,
  ctx: ChunkContext,
): Promise<number> {
  const { config } = opts;
  const result = await opts.sealer.sealChunk({
    chunkPath: chunk.path,
    sha256: chunk.sha256,
    bytes: chunk.bytes,
    predicateFields: {
      sessionId: chunk.sessionId,
      chunkIndex: chunk.chunkIndex,
      startNs: chunk.startNs.toString(),
      endNs: chunk.endNs.toString(),
      streams: streamSummaries(chunk, ctx.window, opts.streams, ctx.schemaDigests),
      timesync: ctx.timesync,
      calibration: ctx.calibration,
      transforms: ctx.transforms,
      producer: { rigcapVersion: opts.rigcapVersion, configDigest: opts.configDigest },
      policy: {
        residency: config.policy.residency,
        retentionDays: config.policy.retentionDays,
        purpose: config.policy.purpose,
        owner: config.policy.owner,
        ...(config.sync.allowedRegions === undefined
          ? {}
          : { allowedRegions: [...config.sync.allowedRegions] }),
      },
      context: captureContext(config),
      ...(ctx.regions === undefined ? {} : { regions: [...ctx.regions] }),
      ...(ctx.outsideGeofences === undefined ? {} : { outsideGeofences: [...ctx.outsideGeofences] }),
    },
  });
  opts.catalog.markChunkSealed(chunk.sessionId, chunk.chunkIndex, result.seq);
  opts.log.info(
    {
      sessionId: chunk.sessionId,
      chunk: chunk.name,
      seq: result.seq,
      bytes: chunk.bytes,
      file: relative(config.spool.dir, chunk.path),
    },
    'chunk sealed',
  );
  return result.seq;
}
