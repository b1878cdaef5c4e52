// The conditions of one sample, from a session's signed records (pure): which chunk holds it, the
// device and key that signed it, the calibrations and clock state in force, the de-id lineage,
// stream counts and loss around that time, markers nearby, and the store's receipt. Every field
// is copied from a signed record; `traceEvidenceFailures` says whether those records verify.
import { chunkOf, gapsOfSession, openOfSession, type SessionRecords } from './exports.ts';
import { calibrationCovers } from './gaps.ts';
import type {
  CaptureChunkPredicate,
  ClockInterval,
  CustodyReceiptPredicate,
  SessionGap,
  TimesyncSummary,
  TransformLineage,
} from './predicates.ts';
import type { DecodedRecord, DecodedRecordOf } from './record-decode.ts';
import { receiptSignature } from './trace-evidence.ts';

export {
  chainFileFailures,
  chunkFileFailures,
  sessionRecordFailures,
  traceEvidenceFailures,
  type ChunkFileEvidence,
} from './trace-evidence.ts';

/** What to trace: a topic at an instant, or a chunk by its digest (optionally one topic in it). */
export type TraceQuery =
  | { kind: 'sample'; topic: string; atNs: bigint; aroundNs: bigint }
  | { kind: 'chunk'; sha256: string; topic?: string; atNs?: bigint; aroundNs: bigint };

/** Where a field came from: the signer and seq of the record that signs it. */
export interface RecordRef {
  signer: string;
  seq: number;
  sha256: string;
}

export interface TraceAnswer {
  sessionId: string;
  sample: { topic: string | null; atNs: string | null };
  chunk: {
    name: string;
    sha256: string;
    chunkIndex: number;
    startNs: string;
    endNs: string;
    bytes: string;
    record: RecordRef;
    /** Other chunks of the session whose window also holds the instant (late de-id frames). */
    alsoIn: string[];
  };
  device: {
    deviceId: string;
    keyId: string;
    /** The device-key record that established the signing key (undefined when not in PATH). */
    keyRecord: RecordRef | null;
    bootId: string;
    rigId: string | null;
    producer: CaptureChunkPredicate['producer'];
    policy: CaptureChunkPredicate['policy'];
  };
  calibration: Array<{
    sensor: string;
    digest: string;
    version: string;
    /** True when the sensor name matches the traced topic. */
    coversTopic: boolean;
    /** The first chunk index of the run of chunks carrying this same digest up to this chunk. */
    inForceSinceChunk: number;
  }>;
  clock: {
    source: TimesyncSummary['source'];
    /** The state of the interval holding the instant (the chunk's state at end when none does). */
    state: ClockInterval['state'];
    interval: ClockInterval | null;
    offsetNs: TimesyncSummary['offsetNs'];
    dispersionNs: TimesyncSummary['dispersionNs'];
    samples: number;
    stepsNearby: TimesyncSummary['steps'];
  };
  deid: Array<TransformLineage & { appliesToTopic: boolean }>;
  streams: CaptureChunkPredicate['streams'];
  around: {
    fromNs: string;
    toNs: string;
    /** The traced topic in each chunk overlapping the window. */
    topic: Array<{
      chunkIndex: number;
      startNs: string;
      endNs: string;
      count: number;
      drops: Record<string, number>;
      upstreamLoss: number;
    }>;
    /** The session's signed gaps overlapping the window (session-wide, or of the traced topic). */
    gaps: SessionGap[];
  };
  markers: Array<{ label: string; note: string; atNs: string; operator: string; record: RecordRef }>;
  receipts: Array<{
    storeId: string;
    record: RecordRef;
    receivedWallNs: string;
    log: CustodyReceiptPredicate['log'];
    /** 'verified' with the store's key from PATH; 'store key not in PATH' when a spool keeps it. */
    signature: 'verified' | 'store key not in PATH';
  }>;
}

export type TraceResult =
  | { ok: true; answer: TraceAnswer; chunkRecord: DecodedRecordOf<'capture-chunk'> }
  | { ok: false; reason: string };

const refOf = (r: DecodedRecord): RecordRef => ({
  signer: r.chain.deviceId,
  seq: r.chain.seq,
  sha256: r.payloadSha256,
});
const overlaps = (aStart: bigint, aEnd: bigint, bStart: bigint, bEnd: bigint): boolean =>
  aStart <= bEnd && bStart <= aEnd;

/** The chunk record that holds the query, and the others whose window also holds the instant. */
function pickChunk(
  s: SessionRecords,
  q: TraceQuery,
):
  | { chunk: DecodedRecordOf<'capture-chunk'>; alsoIn: Array<DecodedRecordOf<'capture-chunk'>> }
  | { reason: string } {
  if (q.kind === 'chunk') {
    const chunk = s.chunks.find((r) => r.subject[0]?.digest.sha256 === q.sha256);
    if (chunk === undefined) return { reason: `no chunk record of session ${s.sessionId} signs ${q.sha256}` };
    if (q.topic !== undefined && !chunkOf(chunk).streams.some((st) => st.topic === q.topic))
      return { reason: `chunk ${chunk.subject[0]?.name ?? ''} has no stream ${q.topic}` };
    return { chunk, alsoIn: [] };
  }
  if (!s.chunks.some((r) => chunkOf(r).streams.some((st) => st.topic === q.topic)))
    return { reason: `session ${s.sessionId} has no stream ${q.topic}` };
  const holding = s.chunks.filter((r) => {
    const c = chunkOf(r);
    return (
      BigInt(c.startNs) <= q.atNs &&
      q.atNs <= BigInt(c.endNs) &&
      c.streams.some((st) => st.topic === q.topic && st.count > 0)
    );
  });
  const [chunk, ...alsoIn] = holding;
  if (chunk === undefined) {
    const first = s.chunks[0];
    const last = s.chunks.at(-1);
    const span =
      first && last ? ` (its chunks span ${chunkOf(first).startNs} … ${chunkOf(last).endNs} ns)` : '';
    return { reason: `no chunk of session ${s.sessionId} holds ${q.topic} at ${q.atNs} ns${span}` };
  }
  return { chunk, alsoIn };
}

function keyRecordOf(s: SessionRecords, signer: string, keyId: string): DecodedRecord | undefined {
  return s.keys.find((k) => {
    if (k.chain.deviceId !== signer) return false;
    const p = k.predicate;
    return (p.action === 'enrol' && p.keyId === keyId) || (p.action === 'rotate' && p.newKeyId === keyId);
  });
}

/** The topic's counts and drops in each chunk overlapping [fromNs, toNs]. */
function topicAround(
  s: SessionRecords,
  topic: string,
  fromNs: bigint,
  toNs: bigint,
): TraceAnswer['around']['topic'] {
  return s.chunks
    .filter((r) => overlaps(BigInt(chunkOf(r).startNs), BigInt(chunkOf(r).endNs), fromNs, toNs))
    .flatMap((r) => {
      const p = chunkOf(r);
      const st = p.streams.find((x) => x.topic === topic);
      return st === undefined
        ? []
        : [
            {
              chunkIndex: p.chunkIndex,
              startNs: p.startNs,
              endNs: p.endNs,
              count: st.count,
              drops: st.drops,
              upstreamLoss: st.upstreamLoss,
            },
          ];
    });
}

/** Answers a trace query from one session's records (verify them first with traceEvidenceFailures). */
export function traceSample(s: SessionRecords, q: TraceQuery): TraceResult {
  const picked = pickChunk(s, q);
  if ('reason' in picked) return { ok: false, reason: picked.reason };
  const { chunk, alsoIn } = picked;
  const c = chunkOf(chunk);
  const topic = q.topic ?? null;
  const atNs = q.atNs ?? null;
  const focusStart = atNs ?? BigInt(c.startNs);
  const focusEnd = atNs ?? BigInt(c.endNs);
  const fromNs = focusStart - q.aroundNs;
  const toNs = focusEnd + q.aroundNs;
  const open = openOfSession(s);

  const calibration = calibrationInForce(s, c, topic);
  const clock = clockAt(s, c, { atNs, fromNs, toNs });

  const deid = c.transforms
    .filter((x) => x.kind === 'de-identification')
    .map((x) => {
      const exempt = (x['exemptStreams'] as string[] | undefined) ?? [];
      const applies =
        topic !== null &&
        x['enabled'] !== false &&
        c.streams.some((st) => st.topic === topic && /Image/.test(st.type)) &&
        !exempt.some((e) => e === topic || calibrationCovers(e, topic));
      return { ...x, appliesToTopic: applies };
    });

  const aroundTopic = topic === null ? [] : topicAround(s, topic, fromNs, toNs);
  const gaps = gapsOfSession(s).filter(
    (g) =>
      overlaps(BigInt(g.startNs), BigInt(g.endNs), fromNs, toNs) &&
      (g.stream === undefined || topic === null || g.stream === topic),
  );

  const markers = markersAround(s, fromNs, toNs);
  const receipts = receiptsOf(s, chunk);
  const keyRecord = keyRecordOf(s, chunk.chain.deviceId, chunk.keyId);
  return {
    ok: true,
    chunkRecord: chunk,
    answer: {
      sessionId: s.sessionId,
      sample: { topic, atNs: atNs === null ? null : String(atNs) },
      chunk: {
        name: chunk.subject[0]?.name ?? '',
        sha256: chunk.subject[0]?.digest.sha256 ?? '',
        chunkIndex: c.chunkIndex,
        startNs: c.startNs,
        endNs: c.endNs,
        bytes: c.bytes,
        record: refOf(chunk),
        alsoIn: alsoIn.map((r) => r.subject[0]?.name ?? ''),
      },
      device: {
        deviceId: s.deviceId,
        keyId: chunk.keyId,
        keyRecord: keyRecord === undefined ? null : refOf(keyRecord),
        bootId: chunk.chain.bootId,
        rigId: open?.rigId ?? null,
        producer: c.producer,
        policy: c.policy,
      },
      calibration,
      clock,
      deid,
      streams: c.streams,
      around: { fromNs: String(fromNs), toNs: String(toNs), topic: aroundTopic, gaps },
      markers,
      receipts,
    },
  };
}

/** Each calibration of the chunk, whether it covers the topic, and since which chunk it is in force. */
function calibrationInForce(
  s: SessionRecords,
  c: CaptureChunkPredicate,
  topic: string | null,
): TraceAnswer['calibration'] {
  const before = s.chunks.filter((r) => chunkOf(r).chunkIndex <= c.chunkIndex);
  return c.calibration.map((ref) => {
    let since = c.chunkIndex;
    for (let i = before.length - 1; i >= 0; i--) {
      const p = chunkOf(before[i]!);
      if (!p.calibration.some((x) => x.sensor === ref.sensor && x.digest === ref.digest)) break;
      since = p.chunkIndex;
    }
    return {
      sensor: ref.sensor,
      digest: ref.digest,
      version: String(ref.version),
      coversTopic: topic !== null && calibrationCovers(ref.sensor, topic),
      inForceSinceChunk: since,
    };
  });
}

/** The chunk's clock state at the instant (its interval), and clock steps around it. */
function clockAt(
  s: SessionRecords,
  c: CaptureChunkPredicate,
  w: { atNs: bigint | null; fromNs: bigint; toNs: bigint },
): TraceAnswer['clock'] {
  const { atNs, fromNs, toNs } = w;
  const t = c.timesync;
  const interval =
    atNs === null
      ? null
      : (t.intervals.find((i) => BigInt(i.startNs) <= atNs && atNs <= BigInt(i.endNs)) ?? null);
  return {
    source: t.source,
    state: interval?.state ?? t.stateAtEnd,
    interval,
    offsetNs: t.offsetNs,
    dispersionNs: t.dispersionNs,
    samples: t.samples,
    stepsNearby: s.chunks
      .flatMap((r) => chunkOf(r).timesync.steps)
      .filter((st) => fromNs <= BigInt(st.atNs) && BigInt(st.atNs) <= toNs),
  };
}

/** Event markers between fromNs and toNs, in time order. */
function markersAround(s: SessionRecords, fromNs: bigint, toNs: bigint): TraceAnswer['markers'] {
  return s.markers
    .map((m) => ({ m, p: m.predicate }))
    .filter(({ p }) => fromNs <= BigInt(p.atNs) && BigInt(p.atNs) <= toNs)
    .sort((a, b) => (BigInt(a.p.atNs) < BigInt(b.p.atNs) ? -1 : 1))
    .map(({ m, p }) => ({
      label: p.label,
      note: p.note,
      atNs: p.atNs,
      operator: p.operator,
      record: refOf(m),
    }));
}

/** Custody receipts that name the chunk's record, with whether their signature was checked. */
function receiptsOf(s: SessionRecords, chunk: DecodedRecord): TraceAnswer['receipts'] {
  return s.receipts
    .filter(({ record }) => {
      const p = record.predicate;
      return p.record.seq === chunk.chain.seq && p.record.sha256 === chunk.payloadSha256;
    })
    .map(({ storeId, record }) => {
      const p = record.predicate;
      return {
        storeId,
        record: refOf(record),
        receivedWallNs: p.receivedWallNs,
        log: p.log,
        signature:
          receiptSignature(s, storeId, record) === undefined
            ? ('store key not in PATH' as const)
            : ('verified' as const),
      };
    });
}
