// The seal context of a chunk signed after a crash, rebuilt from what the chunk carries: its
// calibration attachments, its `rigcap.timesync` metadata, its channels and counts, plus the drops
// the catalog row kept. Whatever could not be read back is named in the record's recovery lineage,
// so a verifier (and a reader) knows which fields are capture-time facts and which are not.
import type { ChunkDrops } from '../catalog/catalog.ts';
import type { CalibrationRef, TimesyncSummary, TransformLineage } from '../records/predicates.ts';
import { predicateProblems } from '../records/validate.ts';
import { timesyncFromMetadata, timesyncMetadataName, unknownClockSummary } from '../timesync/index.ts';
import type { CommittedChunk } from './chunk-types.ts';
import type { StreamCounts } from './ledger.ts';
import type { ChunkFileFacts } from './mcap-read.ts';
import { salvageMetadataName } from './salvage.ts';
import type { ChunkContext } from './seal.ts';

/** Fields of a capture-chunk record a recovery may fail to read back. */
export type RecoverableField = 'calibration' | 'calibration.version' | 'timesync' | 'drops' | 'transforms';

/** The `transforms` entry every record signed by recovery carries. */
export interface RecoveryLineage extends TransformLineage {
  kind: 'recovery';
  note: string;
  /** `committed`: the writer finished the file; `salvaged`: rebuilt from a crash's `.partial`. */
  origin: 'committed' | 'salvaged';
  /** Fields whose values are read back from the chunk or the catalog, as a normal seal had them. */
  recovered: RecoverableField[];
  /** Fields whose capture-time values are lost; the record holds a stated placeholder for them. */
  unrecovered: RecoverableField[];
  /** For a salvaged chunk: what the source partial held (`rigcap.salvage` metadata). */
  salvage?: { source: string; sourceBytes: number; recoveredMessages: number; lostTailBytes: number };
  /** Sensors whose calibration attachment could not be named in the record, with why. */
  calibrationProblems?: string[];
}

export interface RecoveredContextInput {
  chunk: CommittedChunk;
  facts: ChunkFileFacts;
  /** Drops the writer stored with the catalog row; undefined when the row came from reconcile. */
  drops: ChunkDrops | undefined;
  /** The version the spool's calibration history gives a sensor's digest, if it has one. */
  calibrationVersion: (sensor: string, sha256: string) => number | undefined;
  note: string;
}

/** A chunk's context as a normal seal would have built it, as far as the chunk and catalog tell. */
export function recoveredChunkContext(input: RecoveredContextInput): ChunkContext & {
  lineage: RecoveryLineage;
} {
  const { chunk, facts } = input;
  const recovered: RecoverableField[] = [];
  const unrecovered: RecoverableField[] = [];
  const calibrationProblems: string[] = [];

  const calibration: CalibrationRef[] = [];
  let versionsKnown = true;
  for (const { sensor, sha256 } of facts.calibration) {
    const version = input.calibrationVersion(sensor, sha256);
    if (version === undefined) versionsKnown = false;
    const ref: CalibrationRef = { sensor, digest: sha256, version: version ?? 'unknown' };
    const problems = fieldProblems({ calibration: [ref] }, '/calibration');
    if (problems.length > 0) calibrationProblems.push(`${sensor}: ${problems.join(', ')}`);
    else calibration.push(ref);
  }
  (calibrationProblems.length === 0 ? recovered : unrecovered).push('calibration');
  if (calibration.length > 0) (versionsKnown ? recovered : unrecovered).push('calibration.version');

  let timesync: TimesyncSummary | undefined;
  const clock = facts.metadata.get(timesyncMetadataName);
  if (clock !== undefined) {
    try {
      const candidate = timesyncFromMetadata(clock);
      if (fieldProblems({ timesync: candidate }, '/timesync').length === 0) timesync = candidate;
    } catch (err) {
      if (!(err instanceof SyntaxError)) throw err;
    }
  }
  (timesync === undefined ? unrecovered : recovered).push('timesync');

  const window = new Map<string, StreamCounts>();
  for (const [stream, drops] of Object.entries(input.drops ?? {}))
    window.set(stream, { received: 0, written: 0, bytesWritten: 0, drops });
  (input.drops === undefined ? unrecovered : recovered).push('drops');
  // De-identification lineage and snapshot windows lived in memory only.
  unrecovered.push('transforms');

  const salvage = salvageFacts(facts.metadata.get(salvageMetadataName));
  const lineage: RecoveryLineage = {
    kind: 'recovery',
    note: input.note,
    origin: salvage === undefined ? 'committed' : 'salvaged',
    recovered,
    unrecovered,
    ...(salvage === undefined ? {} : { salvage }),
    ...(calibrationProblems.length === 0 ? {} : { calibrationProblems }),
  };
  return {
    window,
    timesync: timesync ?? unknownClockSummary(chunk),
    calibration,
    transforms: [lineage],
    lineage,
  };
}

/** The streams a recovered chunk's summaries cover: the configured ones, then any other channel in the file. */
export function recoveredStreams(
  configured: ReadonlyArray<{ name: string; topic: string; type: string }>,
  facts: ChunkFileFacts,
): Array<{ name: string; topic: string; type: string }> {
  const known = new Set(configured.map((s) => s.name));
  const extra = facts.channels
    .filter((c) => !known.has(c.stream))
    .map((c) => ({ name: c.stream, topic: c.topic, type: c.type }));
  return [...configured, ...extra];
}

function salvageFacts(map: ReadonlyMap<string, string> | undefined): RecoveryLineage['salvage'] {
  if (map === undefined) return undefined;
  const n = (key: string): number => {
    const v = Number(map.get(key) ?? '0');
    return Number.isSafeInteger(v) ? v : 0;
  };
  return {
    source: map.get('source') ?? '',
    sourceBytes: n('sourceBytes'),
    recoveredMessages: n('recoveredMessages'),
    lostTailBytes: n('lostTailBytes'),
  };
}

/** Schema problems of one field of a capture-chunk predicate, checked inside an otherwise valid body. */
function fieldProblems(field: Record<string, unknown>, path: string): string[] {
  const body = {
    chain: {
      deviceId: 'd',
      keyId: '0'.repeat(64),
      seq: 1,
      prev: null,
      bootId: '',
      monoNs: '0',
      wallNs: '0',
    },
    sessionId: 's',
    chunkIndex: 1,
    startNs: '0',
    endNs: '0',
    bytes: '0',
    streams: [],
    timesync: unknownClockSummary({ startNs: 0n, endNs: 0n }),
    calibration: [],
    transforms: [],
    producer: { rigcapVersion: '', configDigest: '' },
    policy: { residency: '', retentionDays: 0, purpose: '' },
    ...field,
  };
  return predicateProblems('capture-chunk', body).filter((p) => p.startsWith(path));
}
