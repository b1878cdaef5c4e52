// Provenance readiness: how far a session's signed records can be trusted and used, as a score
// 0–100 with named factors (value, points taken off, why). Pure: it reads only the session's
// records (device keys, open, chunks, markers, close, custody receipts), so a spool, a store and an
// exported in-toto bundle of the same session score the same.
import { inTotoPayloadType, preAuthEncoding } from './dsse.ts';
import { keyIdOf, spkiBlocksOfPem, verifySignature } from './ed25519.ts';
import { closeOfSession, gapsOfSession, intotoBundle, type SessionRecords } from './exports.ts';
import {
  calibrationCovers,
  isImageStream,
  isSensorStream,
  kindOfDropCause,
  uncalibratedStreams,
} from './gaps.ts';
import { formatDuration, formatPercent } from './gap-text.ts';
import type {} from './predicates.ts';
import { verifyBundle } from './verify-bundle.ts';

/** Factor names, in report order. */
export const readinessFactors = [
  'chain',
  'receipts',
  'clock',
  'calibration',
  'deid',
  'loss',
  'gaps',
  'policy',
] as const;
export type ReadinessFactorName = (typeof readinessFactors)[number];

/** Thresholds of one profile (config/readiness/profiles.yaml). */
export interface ReadinessProfile {
  /** A session below this score fails the profile. */
  minScore: number;
  /** Most points each factor can take off; they sum to 100. */
  weights: Record<ReadinessFactorName, number>;
  /** Loss share (worst stream) at which the loss factor takes all its points. */
  lossShareFull: number;
  /** Share of the session's time in gaps at which the gaps factor takes all its points. */
  gapShareFull: number;
  /** Points each clock step takes off (within the clock weight). */
  clockStepCost: number;
  /** Smallest share of the de-id weight taken off when any frame's de-id degraded. */
  deidDegradedMinShare: number;
}

export interface ReadinessFactor {
  name: ReadinessFactorName;
  /** 0–1: the share of what the factor asks for that the session has (1 = all). */
  value: number;
  /** Points taken off the score (0 = none). */
  cost: number;
  reason: string;
}

export interface SessionReadiness {
  sessionId: string;
  score: number;
  factors: ReadinessFactor[];
}

/** Cost rounded up to 0.1 point, so that any shortfall shows. */
function costOf(weight: number, share: number): number {
  const raw = weight * Math.min(1, Math.max(0, share));
  return raw <= 0 ? 0 : Math.min(weight, Math.ceil(raw * 10 - 1e-9) / 10);
}

const round3 = (x: number): number => Math.round(x * 1000) / 1000;

function chainFactor(s: SessionRecords, p: ReadinessProfile): ReadinessFactor {
  const problems: string[] = [];
  // The session's own records verify as a bundle: signatures, key validity, adjacent links, close root.
  // Device records only: a store's keys and receipts are in a store or bundle but not in a spool.
  const device = { ...s, keys: s.keys.filter((k) => k.chain.deviceId === s.deviceId), receipts: [] };
  const report = verifyBundle(new TextEncoder().encode(intotoBundle(device)));
  for (const f of report.failures) problems.push(`${f.code}: ${f.reason}`);
  if (s.open === undefined) problems.push('no session open record');
  if (s.close === undefined) problems.push('session not closed');
  const indexes = s.chunks.map((r) => r.predicate.chunkIndex);
  indexes.forEach((ix, i) => {
    if (ix !== i + 1) problems.push(`chunk record ${i + 1} missing (next is ${ix})`);
  });
  const unique = [...new Set(problems)];
  return {
    name: 'chain',
    value: unique.length === 0 ? 1 : 0,
    cost: unique.length === 0 ? 0 : p.weights.chain,
    reason:
      unique.length === 0
        ? `${report.checked.records} records verify (signatures, keys, links, session root)`
        : unique.slice(0, 5).join('; ') + (unique.length > 5 ? `; and ${unique.length - 5} more` : ''),
  };
}

/** A receipt's signature checks when the session carries that store's key records. */
function receiptVerifies(
  s: SessionRecords,
  storeId: string,
  r: SessionRecords['receipts'][number]['record'],
): boolean {
  const keys = new Map<string, Uint8Array>();
  for (const k of s.keys) {
    if (k.chain.deviceId !== storeId) continue;
    const p = k.predicate;
    const pem = p.action === 'enrol' ? p.publicKey : p.action === 'rotate' ? p.newPublicKey : undefined;
    const spki = pem === undefined ? undefined : spkiBlocksOfPem(pem)[0];
    if (spki !== undefined) keys.set(keyIdOf(spki), spki);
  }
  if (keys.size === 0) return true; // no key here (a spool keeps receipts its sync verified on arrival)
  const spki = keys.get(r.keyId);
  return (
    spki !== undefined && verifySignature(spki, preAuthEncoding(inTotoPayloadType, r.payload), r.signature)
  );
}

function receiptsFactor(s: SessionRecords, p: ReadinessProfile): ReadinessFactor {
  const named = [...s.chunks, ...(s.close ? [s.close] : [])];
  const covered = new Set<number>();
  let invalid = 0;
  for (const { storeId, record } of s.receipts) {
    const rp = record.predicate;
    // Receipts for the open record or markers are fine but not counted: coverage is of chunks and close.
    const target = [...(s.open ? [s.open] : []), ...s.markers, ...named].find(
      (r) => r.chain.seq === rp.record.seq,
    );
    if (
      target === undefined ||
      rp.record.sha256 !== target.payloadSha256 ||
      !receiptVerifies(s, storeId, record)
    ) {
      invalid++;
      continue;
    }
    if (named.some((r) => r === target)) covered.add(rp.record.seq);
  }
  const share = named.length === 0 ? 0 : covered.size / named.length;
  const missing = named.length - covered.size;
  return {
    name: 'receipts',
    value: round3(share),
    cost: costOf(p.weights.receipts, 1 - share),
    reason:
      (missing === 0
        ? `every record (${named.length}) has a store's custody receipt`
        : `${missing} of ${named.length} chunk and close records have no custody receipt (${formatPercent(covered.size, named.length)} covered)`) +
      (invalid > 0 ? `; ${invalid} receipts do not match their record or signature` : ''),
  };
}

function clockFactor(s: SessionRecords, p: ReadinessProfile): ReadinessFactor {
  const ns = { locked: 0n, holdover: 0n, unsynced: 0n };
  let steps = 0;
  for (const r of s.chunks) {
    const t = r.predicate.timesync;
    for (const i of t.intervals) ns[i.state] += BigInt(i.endNs) - BigInt(i.startNs);
    steps += t.steps.length;
  }
  const total = ns.locked + ns.holdover + ns.unsynced;
  const share = total === 0n ? 0 : Number((ns.locked * 1_000_000n) / total) / 1_000_000;
  const cost = Math.min(p.weights.clock, costOf(p.weights.clock, 1 - share) + steps * p.clockStepCost);
  const parts = [
    total === 0n
      ? 'no clock state recorded'
      : `locked ${formatDuration(ns.locked)} of ${formatDuration(total)} (${formatPercent(Number(ns.locked), Number(total))})`,
  ];
  if (ns.holdover > 0n) parts.push(`holdover ${formatDuration(ns.holdover)}`);
  if (ns.unsynced > 0n) parts.push(`unsynced ${formatDuration(ns.unsynced)}`);
  if (steps > 0) parts.push(`${steps} clock step${steps === 1 ? '' : 's'}`);
  return { name: 'clock', value: round3(share), cost: Math.round(cost * 10) / 10, reason: parts.join(', ') };
}

function calibrationFactor(s: SessionRecords, p: ReadinessProfile): ReadinessFactor {
  const sensors = new Set<string>();
  const missing = new Set<string>();
  for (const r of s.chunks) {
    const c = r.predicate;
    for (const st of c.streams) if (isSensorStream(st)) sensors.add(st.topic);
    for (const t of uncalibratedStreams(c)) missing.add(t);
  }
  const share = sensors.size === 0 ? 1 : (sensors.size - missing.size) / sensors.size;
  return {
    name: 'calibration',
    value: round3(share),
    cost: costOf(p.weights.calibration, 1 - share),
    reason:
      missing.size === 0
        ? `every sensor stream (${sensors.size}) has a calibration in every chunk`
        : `no calibration for ${[...missing].sort().join(', ')} (in at least one chunk)`,
  };
}

function deidFactor(s: SessionRecords, p: ReadinessProfile): ReadinessFactor {
  const images = new Set<string>();
  const uncovered = new Set<string>();
  let framesIn = 0;
  let degraded = 0;
  const why = new Map<string, number>();
  const note = (k: string, n: number): void => {
    if (n <= 0) return;
    degraded += n;
    why.set(k, (why.get(k) ?? 0) + n);
  };
  for (const r of s.chunks) {
    const c = r.predicate;
    const chunkImages = c.streams.filter((st) => isImageStream(st));
    const deid = c.transforms.filter((t) => t.kind === 'de-identification');
    const applied = deid.some((t) => t['enabled'] !== false);
    const exempt = new Set(deid.flatMap((t) => (t['exemptStreams'] as string[] | undefined) ?? []));
    // Lineage names exempt streams by stream name: matched to topics word by word.
    const isExempt = (topic: string): boolean =>
      [...exempt].some((e) => e === topic || calibrationCovers(e, topic));
    for (const e of exempt)
      if (!chunkImages.some((st) => e === st.topic || calibrationCovers(e, st.topic))) {
        images.add(e);
        uncovered.add(e);
      }
    for (const st of chunkImages) {
      images.add(st.topic);
      if (!applied || isExempt(st.topic)) uncovered.add(st.topic);
      for (const [cause, n] of Object.entries(st.drops))
        if (kindOfDropCause(cause) === 'deid') note(cause.replaceAll('_', ' '), n);
    }
    for (const t of deid) {
      const f = (t['frames'] ?? {}) as Partial<Record<'in' | 'failed', number>>;
      framesIn += f.in ?? 0;
      // Failed frames are dropped (counted above as deid_failed) or written fully blurred: either way degraded.
      if ((f.failed ?? 0) > 0 && !chunkImages.some((st) => (st.drops['deid_failed'] ?? 0) > 0))
        note('de-id failed', f.failed ?? 0);
    }
  }
  // Frames held and lost at a crash are named by the close record's gaps, not by any chunk.
  for (const g of gapsOfSession(s))
    if (
      g.kind === 'deid' &&
      g.counts?.['deid_held_lost'] !== undefined &&
      !s.chunks.some((r) => r.predicate.streams.some((st) => (st.drops['deid_held_lost'] ?? 0) > 0))
    )
      note('deid held lost', g.counts['deid_held_lost']);
  const uncoveredShare = images.size === 0 ? 0 : uncovered.size / images.size;
  const degradedShare =
    degraded === 0 ? 0 : Math.max(p.deidDegradedMinShare, degraded / Math.max(1, framesIn + degraded));
  const share = Math.max(uncoveredShare, degradedShare);
  const parts: string[] = [];
  if (uncovered.size > 0) parts.push(`not de-identified: ${[...uncovered].sort().join(', ')}`);
  if (degraded > 0)
    parts.push(
      `degraded: ${[...why].map(([k, n]) => `${n} ${k}`).join(', ')} (${formatPercent(degraded, framesIn + degraded)} of frames)`,
    );
  return {
    name: 'deid',
    value: round3(1 - share),
    cost: costOf(p.weights.deid, share),
    reason:
      parts.length > 0
        ? parts.join('; ')
        : images.size === 0
          ? 'no image streams'
          : `de-identification applied on every image stream (${images.size}), never degraded`,
  };
}

function lossFactor(s: SessionRecords, p: ReadinessProfile): ReadinessFactor {
  const streams = new Map<string, { kept: number; lost: number }>();
  for (const r of s.chunks)
    for (const st of r.predicate.streams) {
      const acc = streams.get(st.topic) ?? { kept: 0, lost: 0 };
      acc.kept += st.count - (st.latchedReplays ?? 0);
      for (const [cause, n] of Object.entries(st.drops)) if (kindOfDropCause(cause) === 'loss') acc.lost += n;
      acc.lost += st.upstreamLoss;
      streams.set(st.topic, acc);
    }
  let worst: { topic: string; share: number; lost: number; seen: number } | undefined;
  const lossy: string[] = [];
  for (const [topic, a] of streams) {
    const seen = a.kept + a.lost;
    const share = seen === 0 ? 0 : a.lost / seen;
    if (a.lost > 0) lossy.push(`${topic} ${a.lost} of ${seen} (${formatPercent(a.lost, seen)})`);
    if (worst === undefined || share > worst.share) worst = { topic, share, lost: a.lost, seen };
  }
  const share = worst?.share ?? 0;
  return {
    name: 'loss',
    value: round3(1 - share),
    cost: costOf(p.weights.loss, share / p.lossShareFull),
    reason: lossy.length === 0 ? `no samples lost on ${streams.size} streams` : `lost: ${lossy.join('; ')}`,
  };
}

function sessionSpanNs(s: SessionRecords): bigint {
  const close = closeOfSession(s);
  if (close !== undefined) return BigInt(close.endNs) - BigInt(close.startNs);
  const first = s.chunks[0];
  const last = s.chunks.at(-1);
  return first && last ? BigInt(last.predicate.endNs) - BigInt(first.predicate.startNs) : 0n;
}

function gapsFactor(s: SessionRecords, p: ReadinessProfile): ReadinessFactor {
  // Loss, de-id, clock and calibration gaps have factors of their own; these are the rest.
  const mine = gapsOfSession(s).filter(
    (g) => g.kind === undefined || g.kind === 'capture_paused' || g.kind === 'downtime',
  );
  const inGapsNs = mine.reduce((a, g) => a + (BigInt(g.endNs) - BigInt(g.startNs)), 0n);
  const spanNs = sessionSpanNs(s);
  const timeShare = spanNs <= 0n ? (mine.length > 0 ? 1 : 0) : Number(inGapsNs) / Number(spanNs);
  // Every such gap costs at least a point, however short.
  const share = Math.max(timeShare / p.gapShareFull, mine.length / Math.max(1, p.weights.gaps));
  const byKind = new Map<string, { n: number; ns: bigint }>();
  for (const g of mine) {
    const k = g.kind === 'capture_paused' ? 'capture paused' : g.kind === 'downtime' ? 'downtime' : g.cause;
    const acc = byKind.get(k) ?? { n: 0, ns: 0n };
    acc.n++;
    acc.ns += BigInt(g.endNs) - BigInt(g.startNs);
    byKind.set(k, acc);
  }
  return {
    name: 'gaps',
    value: round3(1 - Math.min(1, timeShare)),
    cost: mine.length === 0 ? 0 : costOf(p.weights.gaps, share),
    reason:
      mine.length === 0
        ? 'no capture pauses, downtime or other gaps'
        : [...byKind].map(([k, a]) => `${k}: ${a.n} (${formatDuration(a.ns)})`).join('; '),
  };
}

const unfilled = (v: string | undefined): boolean =>
  v === undefined || v.trim() === '' || v === 'unspecified';

function policyFactor(s: SessionRecords, p: ReadinessProfile): ReadinessFactor {
  const first = s.chunks[0];
  const policy = first ? first.predicate.policy : undefined;
  const missing = (['owner', 'purpose', 'residency'] as const).filter((k) => unfilled(policy?.[k]));
  return {
    name: 'policy',
    value: round3((3 - missing.length) / 3),
    cost: costOf(p.weights.policy, missing.length / 3),
    reason:
      missing.length === 0
        ? `owner ${policy?.owner ?? ''}, purpose ${policy?.purpose ?? ''}, residency ${policy?.residency ?? ''}`
        : `not filled: ${missing.join(', ')}`,
  };
}

/** Scores one session against a profile. */
export function scoreSession(s: SessionRecords, profile: ReadinessProfile): SessionReadiness {
  const factors = [
    chainFactor(s, profile),
    receiptsFactor(s, profile),
    clockFactor(s, profile),
    calibrationFactor(s, profile),
    deidFactor(s, profile),
    lossFactor(s, profile),
    gapsFactor(s, profile),
    policyFactor(s, profile),
  ];
  const taken = factors.reduce((a, f) => a + f.cost, 0);
  return { sessionId: s.sessionId, score: Math.max(0, Math.floor(100 - taken + 1e-9)), factors };
}

/** Problems with a profile read from a file (empty when usable). */
export function readinessProfileProblems(name: string, value: unknown): string[] {
  if (typeof value !== 'object' || value === null) return [`profile ${name} is not a mapping`];
  const v = value as Record<string, unknown>;
  const problems: string[] = [];
  const num = (k: string, lo: number, hi: number): void => {
    const x = v[k];
    if (typeof x !== 'number' || !(x >= lo && x <= hi))
      problems.push(`${name}.${k} must be a number in ${lo}…${hi}`);
  };
  num('minScore', 0, 100);
  num('lossShareFull', 1e-6, 1);
  num('gapShareFull', 1e-6, 1);
  num('clockStepCost', 0, 100);
  num('deidDegradedMinShare', 0, 1);
  const w = v['weights'];
  if (typeof w !== 'object' || w === null) problems.push(`${name}.weights must name every factor`);
  else {
    let sum = 0;
    for (const f of readinessFactors) {
      const x = (w as Record<string, unknown>)[f];
      if (typeof x !== 'number' || x < 0) problems.push(`${name}.weights.${f} must be a number ≥ 0`);
      else sum += x;
    }
    if (problems.length === 0 && Math.abs(sum - 100) > 1e-6)
      problems.push(`${name}.weights must sum to 100 (they sum to ${sum})`);
  }
  return problems;
}
