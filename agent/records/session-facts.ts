// The facts a dataset card and its Croissant companion state about one session, summed from its
// signed records (pure).
import { chunkOf, closeOfSession, contextOfSession, gapsOfSession, type SessionRecords } from './exports.ts';
import type { CaptureChunkPredicate, CaptureContext, SessionGap, TransformLineage } from './predicates.ts';

/** Facts a dataset card and its Croissant-RAI companion describe. */
export interface SessionFacts {
  sessionId: string;
  deviceId: string;
  startNs: string | null;
  endNs: string | null;
  chunks: Array<{ name: string; sha256: string; bytes: string }>;
  streams: Array<{ topic: string; type: string; count: number; drops: number; upstreamLoss: number }>;
  calibrations: Array<{ sensor: string; digest: string; version: string }>;
  clockNs: Record<'locked' | 'holdover' | 'unsynced', string>;
  transforms: string[];
  policy: CaptureChunkPredicate['policy'] | null;
  /** Who captured it, where, on what terms (null when the records state none). */
  context: CaptureContext | null;
  /** Geofence ids the chunks were captured in, in order of first appearance. */
  regions: string[];
  closed: boolean;
  /** Every gap: as the close record signs them, or named from the chunk records when it has none that are typed. */
  gaps: SessionGap[];
}

/** Sums the de-identification lineage of a session's chunks into one readable line. */
class DeidTally {
  seen = false;
  readonly #models = new Set<string>();
  readonly #params = new Set<string>();
  readonly #exempt = new Set<string>();
  readonly #frames = { in: 0, withDetections: 0, failed: 0, dropped: 0 };
  readonly #boxes = { face: 0, plate: 0 };
  /** Of the boxes, those filled from tracks where the detector missed them. */
  readonly #filled = { face: 0, plate: 0 };
  #disabled = false;
  /** Spill mode: frames held then blurred late, frames held and never blurred, the longest hold. */
  #spill = false;
  #blurredLate = 0;
  #heldLost = 0;
  #maxLateDelayNs = 0n;

  add(t: TransformLineage): void {
    this.seen = true;
    if (t['enabled'] === false) this.#disabled = true;
    for (const m of (t['models'] as Array<{ name: string; kind: string; sha256: string }> | undefined) ?? [])
      this.#models.add(`${m.name} (${m.kind}, sha256 ${m.sha256})`);
    if (typeof t['paramsDigest'] === 'string') this.#params.add(t['paramsDigest']);
    for (const e of (t['exemptStreams'] as string[] | undefined) ?? []) this.#exempt.add(e);
    const f = t['frames'] as
      Partial<Record<'in' | 'withDetections' | 'failed' | 'dropped', number>> | undefined;
    const b = t['boxes'] as Partial<Record<'face' | 'plate', number>> | undefined;
    this.#frames.in += f?.in ?? 0;
    this.#frames.withDetections += f?.withDetections ?? 0;
    this.#frames.failed += f?.failed ?? 0;
    this.#frames.dropped += f?.dropped ?? 0;
    this.#boxes.face += b?.face ?? 0;
    this.#boxes.plate += b?.plate ?? 0;
    const filled = t['filled'] as Partial<Record<'face' | 'plate', number>> | undefined;
    this.#filled.face += filled?.face ?? 0;
    this.#filled.plate += filled?.plate ?? 0;
    if (t['onBackpressure'] === 'spill') this.#spill = true;
    const late = t['frames'] as Partial<Record<'blurredLate' | 'heldLost', number>> | undefined;
    this.#blurredLate += late?.blurredLate ?? 0;
    this.#heldLost += late?.heldLost ?? 0;
    const delay = typeof t['maxLateDelayNs'] === 'string' ? BigInt(t['maxLateDelayNs']) : 0n;
    if (delay > this.#maxLateDelayNs) this.#maxLateDelayNs = delay;
  }

  describe(): string {
    const parts = [
      this.#disabled && this.#models.size === 0
        ? 'de-identification off'
        : `de-identification: ${this.#frames.in} frames in, ${this.#frames.withDetections} with detections, ${this.#boxes.face} faces and ${this.#boxes.plate} plates blurred, ${this.#frames.failed} failed and ${this.#frames.dropped} dropped (never written)`,
    ];
    if (this.#filled.face + this.#filled.plate > 0)
      parts.push(
        `${this.#filled.face} faces and ${this.#filled.plate} plates of those filled from tracks where the detector missed them`,
      );
    if (this.#spill)
      parts.push(
        `spill mode: ${this.#blurredLate} frames held sealed and blurred late (longest hold ${(Number(this.#maxLateDelayNs) / 1e9).toFixed(1)} s), ${this.#heldLost} held frames never blurred (never written)`,
      );
    if (this.#models.size > 0) parts.push(`models ${[...this.#models].join('; ')}`);
    if (this.#params.size > 0) parts.push(`parameters sha256 ${[...this.#params].join(', ')}`);
    if (this.#exempt.size > 0) parts.push(`exempt streams ${[...this.#exempt].join(', ')}`);
    return parts.join('; ');
  }
}

/** Summarises a session's chunk records. */
export function sessionFacts(s: SessionRecords): SessionFacts {
  const streams = new Map<
    string,
    { topic: string; type: string; count: number; drops: number; upstreamLoss: number }
  >();
  const cals = new Map<string, { sensor: string; digest: string; version: string }>();
  const clock = { locked: 0n, holdover: 0n, unsynced: 0n };
  const transforms = new Set<string>();
  const deid = new DeidTally();
  for (const r of s.chunks) {
    const p = chunkOf(r);
    for (const st of p.streams) {
      const acc = streams.get(st.topic) ?? {
        topic: st.topic,
        type: st.type,
        count: 0,
        drops: 0,
        upstreamLoss: 0,
      };
      acc.count += st.count;
      acc.drops += Object.values(st.drops).reduce((a, b) => a + b, 0);
      acc.upstreamLoss += st.upstreamLoss;
      streams.set(st.topic, acc);
    }
    for (const c of p.calibration)
      cals.set(`${c.sensor}@${c.digest}`, { sensor: c.sensor, digest: c.digest, version: String(c.version) });
    for (const i of p.timesync.intervals) clock[i.state] += BigInt(i.endNs) - BigInt(i.startNs);
    for (const t of p.transforms) {
      if (t.kind === 'de-identification') deid.add(t);
      else
        transforms.add(
          JSON.stringify(
            t,
            Object.keys(t).filter(
              (k) =>
                k === 'kind' ||
                k === 'source' ||
                k === 'name' ||
                k === 'sha256' ||
                k === 'stream' ||
                k === 'preMs' ||
                k === 'postMs',
            ),
          ),
        );
    }
  }
  if (deid.seen) transforms.add(deid.describe());
  const close = closeOfSession(s);
  const first = s.chunks[0];
  const last = s.chunks.at(-1);
  return {
    sessionId: s.sessionId,
    deviceId: s.deviceId,
    startNs: first ? chunkOf(first).startNs : null,
    endNs: last ? chunkOf(last).endNs : null,
    chunks: s.chunks.map((r) => ({
      name: r.subject[0]?.name ?? '',
      sha256: r.subject[0]?.digest.sha256 ?? '',
      bytes: chunkOf(r).bytes,
    })),
    streams: [...streams.values()],
    calibrations: [...cals.values()],
    clockNs: {
      locked: String(clock.locked),
      holdover: String(clock.holdover),
      unsynced: String(clock.unsynced),
    },
    transforms: [...transforms],
    policy: first ? chunkOf(first).policy : null,
    context: contextOfSession(s),
    regions: [...new Set(s.chunks.flatMap((r) => chunkOf(r).regions ?? []))],
    closed: close !== undefined,
    gaps: gapsOfSession(s),
  };
}
