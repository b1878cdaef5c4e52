// Non-proprietary exports of one session, built from its decoded records (pure): an in-toto JSONL
// bundle, W3C PROV-JSON, and a dataset card (Markdown) with a Croissant-RAI JSON-LD companion.
import type {
  TransformLineage,
  CaptureChunkPredicate,
  CustodyReceiptPredicate,
  EventMarkerPredicate,
  SessionGap,
  SessionPredicate,
} from './predicates.ts';
import type { DecodedRecord } from './record-decode.ts';
import { describeGap, formatBytes, formatDuration, formatPercent, mergeGaps, sessionGaps } from './gaps.ts';

/** A session's records, gathered from every signer in a spool or store. */
export interface SessionRecords {
  sessionId: string;
  deviceId: string;
  /** device-key records of the device (so the bundle verifies on its own). */
  keys: DecodedRecord[];
  open: DecodedRecord | undefined;
  chunks: DecodedRecord[];
  markers: DecodedRecord[];
  close: DecodedRecord | undefined;
  /** Custody receipts (store-signed) naming any of the above. */
  receipts: Array<{ storeId: string; record: DecodedRecord }>;
}

/** Picks a session's records out of every signer's decoded chain. */
export function gatherSession(
  sessionId: string,
  chains: ReadonlyMap<string, readonly DecodedRecord[]>,
): SessionRecords | undefined {
  for (const [deviceId, records] of chains) {
    const mine = records.filter(
      (r) =>
        (r.name === 'session' || r.name === 'capture-chunk' || r.name === 'event-marker') &&
        r.predicate['sessionId'] === sessionId,
    );
    if (mine.length === 0) continue;
    const named = new Set(mine.map((r) => r.chain.seq));
    const receipts: SessionRecords['receipts'] = [];
    for (const [storeId, storeRecords] of chains) {
      for (const r of storeRecords) {
        const p = r.predicate as unknown as CustodyReceiptPredicate;
        if (r.name === 'custody-receipt' && p.record.signer === deviceId && named.has(p.record.seq))
          receipts.push({ storeId, record: r });
      }
    }
    const phase = (r: DecodedRecord): string | undefined =>
      r.name === 'session' ? (r.predicate as unknown as SessionPredicate).phase : undefined;
    return {
      sessionId,
      deviceId,
      // The device's key records, and those of every store that signed a receipt here, so the
      // bundle carries the public keys its signatures need.
      keys: [
        ...records.filter((r) => r.name === 'device-key'),
        ...[...new Set(receipts.map((x) => x.storeId))].flatMap((id) =>
          (chains.get(id) ?? []).filter((r) => r.name === 'device-key'),
        ),
      ],
      open: mine.find((r) => phase(r) === 'open'),
      chunks: mine
        .filter((r) => r.name === 'capture-chunk')
        .sort((a, b) => chunkOf(a).chunkIndex - chunkOf(b).chunkIndex),
      markers: mine.filter((r) => r.name === 'event-marker'),
      close: mine.find((r) => phase(r) === 'close'),
      receipts,
    };
  }
  return undefined;
}

const chunkOf = (r: DecodedRecord): CaptureChunkPredicate => r.predicate as unknown as CaptureChunkPredicate;

/** in-toto bundle: one DSSE envelope per line (keys, open, chunks, markers, close, receipts). */
export function intotoBundle(s: SessionRecords): string {
  const all = [
    ...s.keys,
    ...(s.open ? [s.open] : []),
    ...s.chunks,
    ...s.markers,
    ...(s.close ? [s.close] : []),
    ...s.receipts.map((r) => r.record),
  ];
  return all.map((r) => new TextDecoder().decode(r.bytes)).join('');
}

const nsToIso = (ns: string): string => new Date(Number(BigInt(ns) / 1_000_000n)).toISOString();

/** W3C PROV-JSON: chunks, calibrations and models as entities; capture, de-id and sync as activities. */
export function provDocument(s: SessionRecords): Record<string, unknown> {
  const entity: Record<string, Record<string, unknown>> = {};
  const activity: Record<string, Record<string, unknown>> = {};
  const agent: Record<string, Record<string, unknown>> = {};
  const relations: Record<string, Record<string, Record<string, string>>> = {
    wasGeneratedBy: {},
    used: {},
    wasAssociatedWith: {},
    wasAttributedTo: {},
    wasDerivedFrom: {},
  };
  let n = 0;
  const rel = (kind: string, value: Record<string, string>): void => {
    (relations[kind] as Record<string, Record<string, string>>)[`_:${kind}${++n}`] = value;
  };
  const device = `rigcap:device/${s.deviceId}`;
  agent[device] = { 'prov:type': 'prov:SoftwareAgent', 'rigcap:deviceId': s.deviceId };
  const capture = `rigcap:capture/${s.sessionId}`;
  const deid = `rigcap:deid/${s.sessionId}`;
  const first = s.chunks[0];
  const last = s.chunks.at(-1);
  activity[capture] = {
    'prov:type': 'rigcap:Capture',
    ...(first ? { 'prov:startTime': nsToIso(chunkOf(first).startNs) } : {}),
    ...(last ? { 'prov:endTime': nsToIso(chunkOf(last).endNs) } : {}),
  };
  activity[deid] = { 'prov:type': 'rigcap:DeIdentification' };
  rel('wasAssociatedWith', { 'prov:activity': capture, 'prov:agent': device });
  rel('wasAssociatedWith', { 'prov:activity': deid, 'prov:agent': device });
  for (const r of s.chunks) {
    const p = chunkOf(r);
    const name = `rigcap:chunk/${s.sessionId}/${r.subject[0]?.name ?? ''}`;
    entity[name] = {
      'prov:type': 'rigcap:Chunk',
      'rigcap:sha256': r.subject[0]?.digest.sha256 ?? '',
      'rigcap:bytes': p.bytes,
      'rigcap:recordSeq': r.chain.seq,
    };
    rel('wasGeneratedBy', { 'prov:entity': name, 'prov:activity': capture });
    rel('wasGeneratedBy', { 'prov:entity': name, 'prov:activity': deid });
    rel('wasAttributedTo', { 'prov:entity': name, 'prov:agent': device });
    for (const c of p.calibration) {
      const cal = `rigcap:calibration/${c.sensor}/${c.digest.replace(/^sha256:/, '')}`;
      entity[cal] = {
        'prov:type': 'rigcap:Calibration',
        'rigcap:sensor': c.sensor,
        'rigcap:version': String(c.version),
      };
      rel('used', { 'prov:activity': capture, 'prov:entity': cal });
    }
    for (const t of p.transforms) {
      const models = (t['modelDigests'] ?? {}) as Record<string, unknown>;
      for (const [model, digest] of Object.entries(models)) {
        const id = `rigcap:model/${model}/${String(digest)}`;
        entity[id] = { 'prov:type': 'rigcap:Model', 'rigcap:sha256': String(digest) };
        rel('used', { 'prov:activity': deid, 'prov:entity': id });
      }
    }
  }
  // Gaps are entities of the capture: what is missing or degraded, when, and why.
  gapsOfSession(s).forEach((g, i) => {
    const id = `rigcap:gap/${s.sessionId}/${i + 1}`;
    entity[id] = {
      'prov:type': 'rigcap:Gap',
      'rigcap:kind': g.kind ?? 'other',
      'rigcap:startNs': g.startNs,
      'rigcap:endNs': g.endNs,
      'rigcap:cause': g.cause,
      ...(g.stream === undefined ? {} : { 'rigcap:stream': g.stream }),
      ...(g.counts === undefined ? {} : { 'rigcap:counts': JSON.stringify(g.counts) }),
      'prov:label': describeGap(g),
    };
    rel('wasGeneratedBy', { 'prov:entity': id, 'prov:activity': capture });
  });
  for (const m of s.markers) {
    const p = m.predicate as unknown as EventMarkerPredicate;
    if (p.operator !== '') {
      const op = `rigcap:operator/${p.operator}`;
      agent[op] = { 'prov:type': 'prov:Person' };
      rel('wasAssociatedWith', { 'prov:activity': capture, 'prov:agent': op });
    }
  }
  for (const { storeId, record } of s.receipts) {
    const p = record.predicate as unknown as CustodyReceiptPredicate;
    const store = `rigcap:store/${storeId}`;
    const sync = `rigcap:sync/${s.sessionId}/${storeId}`;
    agent[store] = { 'prov:type': 'prov:Organization' };
    activity[sync] ??= { 'prov:type': 'rigcap:Sync' };
    rel('wasAssociatedWith', { 'prov:activity': sync, 'prov:agent': store });
    if (p.blob !== null)
      rel('used', { 'prov:activity': sync, 'prov:entity': `rigcap:chunk/${s.sessionId}/${p.blob.name}` });
  }
  return {
    prefix: { rigcap: 'https://rigcap.dev/ns#', prov: 'http://www.w3.org/ns/prov#' },
    entity,
    activity,
    agent,
    ...Object.fromEntries(Object.entries(relations).filter(([, v]) => Object.keys(v).length > 0)),
  };
}

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
  closed: boolean;
  /** Every gap: as the close record signs them, or named from the chunk records when it has none that are typed. */
  gaps: SessionGap[];
}

/**
 * A session's gaps: a close record that names typed gaps is the signed statement; otherwise (older
 * records, or no close yet) they are named from the chunk records, beside any the close lists.
 */
export function gapsOfSession(s: SessionRecords): SessionGap[] {
  const close = s.close?.predicate as unknown as Extract<SessionPredicate, { phase: 'close' }> | undefined;
  const signed = close?.gaps ?? [];
  if (signed.some((g) => g.kind !== undefined)) return mergeGaps(signed);
  return mergeGaps([...sessionGaps({ chunks: s.chunks.map(chunkOf) }), ...signed]);
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
  const close = s.close?.predicate as unknown as Extract<SessionPredicate, { phase: 'close' }> | undefined;
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
    closed: close !== undefined,
    gaps: gapsOfSession(s),
  };
}

/** "locked 0 s (0 %), holdover 0 s (0 %), unsynced 30 s (100 %)". */
function clockLine(f: SessionFacts): string {
  const ns = f.clockNs;
  const total = Number(BigInt(ns.locked) + BigInt(ns.holdover) + BigInt(ns.unsynced));
  const part = (state: 'locked' | 'holdover' | 'unsynced'): string =>
    `${state} ${formatDuration(BigInt(ns[state]))} (${formatPercent(Number(ns[state]), total)})`;
  return `${part('locked')}, ${part('holdover')}, ${part('unsynced')}`;
}

/** Markdown dataset card. */
export function datasetCard(f: SessionFacts, options: { croissantFile: string }): string {
  const span = f.startNs && f.endNs ? `${nsToIso(f.startNs)} – ${nsToIso(f.endNs)}` : 'no chunks';
  const lines = [
    `# Session ${f.sessionId}`,
    '',
    `Captured by device \`${f.deviceId}\` with rigcap; every chunk is signed (in-toto/DSSE) and verifiable with \`rigcap verify\`.`,
    `Machine-readable companion: [${options.croissantFile}](${options.croissantFile}) (Croissant 1.0 + RAI).`,
    '',
    `- Time span: ${span}`,
    `- Chunks: ${f.chunks.length} (${formatBytes(f.chunks.reduce((a, c) => a + BigInt(c.bytes), 0n))})${f.closed ? '' : ' — session not closed'}`,
    `- Policy: ${f.policy ? `residency ${f.policy.residency}, retention ${f.policy.retentionDays} days, purpose: ${f.policy.purpose}` : 'unknown'}`,
    '',
    '## Streams',
    '',
    '| topic | type | messages | dropped in agent | lost upstream |',
    '|---|---|---|---|---|',
    ...f.streams.map((s) => {
      const seen = s.count + s.drops + s.upstreamLoss;
      return `| ${s.topic} | ${s.type} | ${s.count} | ${s.drops} (${formatPercent(s.drops, seen)}) | ${s.upstreamLoss} (${formatPercent(s.upstreamLoss, seen)}) |`;
    }),
    '',
    '## Calibration',
    '',
    ...(f.calibrations.length === 0
      ? ['none recorded']
      : f.calibrations.map((c) => `- ${c.sensor}: version ${c.version}, ${c.digest}`)),
    '',
    '## Clock quality',
    '',
    clockLine(f),
    '',
    '## De-identification',
    '',
    ...(f.transforms.length === 0 ? ['no transforms recorded'] : f.transforms.map((t) => `- \`${t}\``)),
    '',
    '## Gaps and loss',
    '',
    ...(f.gaps.length === 0 ? ['no gaps'] : f.gaps.map((g) => `- ${describeGap(g)}`)),
    '',
  ];
  return lines.join('\n');
}

/** Croissant 1.0 JSON-LD with Responsible-AI (RAI) fields. */
export function croissantRai(f: SessionFacts): Record<string, unknown> {
  return {
    '@context': {
      '@language': 'en',
      '@vocab': 'https://schema.org/',
      cr: 'http://mlcommons.org/croissant/',
      rai: 'http://mlcommons.org/croissant/RAI/',
      dct: 'http://purl.org/dc/terms/',
      sc: 'https://schema.org/',
      rigcap: 'https://rigcap.dev/ns#',
    },
    '@type': 'sc:Dataset',
    conformsTo: 'http://mlcommons.org/croissant/1.0',
    name: `rigcap-session-${f.sessionId}`,
    description: `Robot sensor capture session ${f.sessionId} from device ${f.deviceId} (MCAP chunks with signed provenance).`,
    ...(f.startNs && f.endNs ? { temporalCoverage: `${nsToIso(f.startNs)}/${nsToIso(f.endNs)}` } : {}),
    distribution: f.chunks.map((c) => ({
      '@type': 'cr:FileObject',
      '@id': c.name,
      name: c.name,
      contentUrl: `sessions/${f.sessionId}/${c.name}`,
      contentSize: `${c.bytes} B`,
      encodingFormat: 'application/x-mcap',
      sha256: c.sha256,
    })),
    'rai:dataCollection': `Captured on device ${f.deviceId}; streams: ${f.streams.map((s) => `${s.topic} (${s.type}, ${s.count} messages)`).join('; ')}.`,
    'rai:dataCollectionTimeframe': f.startNs && f.endNs ? [nsToIso(f.startNs), nsToIso(f.endNs)] : [],
    'rai:dataPreprocessingProtocol': f.transforms,
    'rai:personalSensitiveInformation':
      'Faces and licence plates are blurred on the device before storage; records hold counts and boxes only.',
    'rai:dataLimitations': [
      `Clock: ${clockLine(f)}.`,
      `Loss: ${f.streams.reduce((a, s) => a + s.drops, 0)} samples dropped in the agent, ${f.streams.reduce((a, s) => a + s.upstreamLoss, 0)} lost upstream.`,
      ...f.gaps.map((g) => `Gap ${describeGap(g)}.`),
    ],
    'rai:dataCollectionMissingData':
      f.gaps.length === 0 ? 'No gaps.' : f.gaps.map((g) => describeGap(g)).join('\n'),
    'rigcap:gaps': f.gaps,
    'rai:dataUseCases': f.policy ? [f.policy.purpose] : [],
    'rigcap:calibration': f.calibrations,
    'rigcap:policy': f.policy,
  };
}
