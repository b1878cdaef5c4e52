// W3C PROV-JSON of one session, built from its decoded records (pure).
import { chunkOf, contextOfSession, gapsOfSession, nsToIso, type SessionRecords } from './exports.ts';
import { describeGap } from './gap-text.ts';
import type { CaptureContext } from './predicates.ts';

type Node = Record<string, unknown>;

/** `{ key: value }` when the value is stated, `{}` otherwise. */
const stated = (key: string, value: string | null | undefined): Record<string, string> =>
  value === null || value === undefined ? {} : { [key]: value };

/** Collects PROV nodes and numbered relations. */
class ProvBuilder {
  readonly entity: Record<string, Node> = {};
  readonly activity: Record<string, Node> = {};
  readonly agent: Record<string, Node> = {};
  readonly relations: Record<string, Record<string, Record<string, string>>> = {
    wasGeneratedBy: {},
    used: {},
    wasAssociatedWith: {},
    wasAttributedTo: {},
    wasDerivedFrom: {},
    actedOnBehalfOf: {},
  };
  #n = 0;

  rel(kind: string, value: Record<string, string>): void {
    (this.relations[kind] ??= {})[`_:${kind}${++this.#n}`] = value;
  }

  document(): Record<string, unknown> {
    return {
      prefix: {
        rigcap: 'https://rigcap.dev/ns#',
        prov: 'http://www.w3.org/ns/prov#',
        dct: 'http://purl.org/dc/terms/',
      },
      entity: this.entity,
      activity: this.activity,
      agent: this.agent,
      ...Object.fromEntries(Object.entries(this.relations).filter(([, v]) => Object.keys(v).length > 0)),
    };
  }
}

/** W3C PROV-JSON: chunks, calibrations and models as entities; capture, de-id and sync as activities. */
export function provDocument(s: SessionRecords): Record<string, unknown> {
  const b = new ProvBuilder();
  const device = `rigcap:device/${s.deviceId}`;
  b.agent[device] = { 'prov:type': 'prov:SoftwareAgent', 'rigcap:deviceId': s.deviceId };
  const capture = `rigcap:capture/${s.sessionId}`;
  const deid = `rigcap:deid/${s.sessionId}`;
  const first = s.chunks[0];
  const last = s.chunks.at(-1);
  const ctx = contextOfSession(s);
  b.activity[capture] = {
    'prov:type': 'rigcap:Capture',
    ...(first ? { 'prov:startTime': nsToIso(chunkOf(first).startNs) } : {}),
    ...(last ? { 'prov:endTime': nsToIso(chunkOf(last).endNs) } : {}),
  };
  b.activity[deid] = { 'prov:type': 'rigcap:DeIdentification' };
  b.rel('wasAssociatedWith', { 'prov:activity': capture, 'prov:agent': device });
  b.rel('wasAssociatedWith', { 'prov:activity': deid, 'prov:agent': device });
  const owner = ctx === null ? undefined : addContext(b, ctx, { capture, device });
  addChunks(b, s, { capture, deid, device, owner, licence: ctx?.licence ?? null });
  // Gaps are entities of the capture: what is missing or degraded, when, and why.
  gapsOfSession(s).forEach((g, i) => {
    const id = `rigcap:gap/${s.sessionId}/${i + 1}`;
    b.entity[id] = {
      'prov:type': 'rigcap:Gap',
      'rigcap:kind': g.kind ?? 'other',
      'rigcap:startNs': g.startNs,
      'rigcap:endNs': g.endNs,
      'rigcap:cause': g.cause,
      ...(g.stream === undefined ? {} : { 'rigcap:stream': g.stream }),
      ...(g.counts === undefined ? {} : { 'rigcap:counts': JSON.stringify(g.counts) }),
      'prov:label': describeGap(g),
    };
    b.rel('wasGeneratedBy', { 'prov:entity': id, 'prov:activity': capture });
  });
  for (const m of s.markers) {
    const p = m.predicate;
    if (p.operator !== '') {
      const op = `rigcap:operator/${p.operator}`;
      b.agent[op] = { 'prov:type': 'prov:Person' };
      b.rel('wasAssociatedWith', { 'prov:activity': capture, 'prov:agent': op });
    }
  }
  for (const { storeId, record } of s.receipts) {
    const p = record.predicate;
    const store = `rigcap:store/${storeId}`;
    const sync = `rigcap:sync/${s.sessionId}/${storeId}`;
    b.agent[store] = { 'prov:type': 'prov:Organization' };
    b.activity[sync] ??= { 'prov:type': 'rigcap:Sync' };
    b.rel('wasAssociatedWith', { 'prov:activity': sync, 'prov:agent': store });
    if (p.blob !== null)
      b.rel('used', { 'prov:activity': sync, 'prov:entity': `rigcap:chunk/${s.sessionId}/${p.blob.name}` });
  }
  return b.document();
}

/** Purpose, legal basis, consent, site, owner and sensors; returns the owner's agent id, if stated. */
function addContext(
  b: ProvBuilder,
  ctx: CaptureContext,
  ids: { capture: string; device: string },
): string | undefined {
  const site = ctx.site === null ? undefined : `rigcap:site/${encodeURIComponent(ctx.site.id)}`;
  Object.assign(b.activity[ids.capture] ?? {}, {
    ...stated('rigcap:purpose', ctx.purpose),
    ...stated('rigcap:legalBasis', ctx.legalBasis),
    ...stated('rigcap:consentRef', ctx.consentRef),
    ...stated('prov:location', site),
  });
  if (site !== undefined && ctx.site !== null)
    b.entity[site] = {
      'prov:type': 'prov:Location',
      'prov:label': ctx.site.name,
      'rigcap:siteId': ctx.site.id,
    };
  for (const sensor of ctx.sensors) {
    const id = `rigcap:sensor/${encodeURIComponent(sensor.stream)}`;
    b.entity[id] = {
      'prov:type': 'rigcap:Sensor',
      'rigcap:stream': sensor.stream,
      ...stated('rigcap:serial', sensor.serial),
      ...stated('rigcap:firmware', sensor.firmware),
    };
    b.rel('used', { 'prov:activity': ids.capture, 'prov:entity': id });
  }
  if (ctx.owner === null) return undefined;
  // The owner is the party the device captures for: the device acts on its behalf.
  const owner = `rigcap:owner/${encodeURIComponent(ctx.owner)}`;
  b.agent[owner] = { 'prov:type': 'prov:Organization', 'prov:label': ctx.owner };
  b.rel('actedOnBehalfOf', {
    'prov:delegate': ids.device,
    'prov:responsible': owner,
    'prov:activity': ids.capture,
  });
  return owner;
}

/** Chunks with their licence and regions, the calibrations and models they used. */
function addChunks(
  b: ProvBuilder,
  s: SessionRecords,
  ids: { capture: string; deid: string; device: string; owner: string | undefined; licence: string | null },
): void {
  for (const r of s.chunks) {
    const p = chunkOf(r);
    const name = `rigcap:chunk/${s.sessionId}/${r.subject[0]?.name ?? ''}`;
    b.entity[name] = {
      'prov:type': 'rigcap:Chunk',
      'rigcap:sha256': r.subject[0]?.digest.sha256 ?? '',
      'rigcap:bytes': p.bytes,
      'rigcap:recordSeq': r.chain.seq,
      ...stated('dct:license', p.context?.licence ?? ids.licence),
      ...(p.regions === undefined ? {} : { 'rigcap:regions': p.regions.join(',') }),
    };
    b.rel('wasGeneratedBy', { 'prov:entity': name, 'prov:activity': ids.capture });
    b.rel('wasGeneratedBy', { 'prov:entity': name, 'prov:activity': ids.deid });
    b.rel('wasAttributedTo', { 'prov:entity': name, 'prov:agent': ids.device });
    if (ids.owner !== undefined) b.rel('wasAttributedTo', { 'prov:entity': name, 'prov:agent': ids.owner });
    for (const c of p.calibration) {
      const cal = `rigcap:calibration/${c.sensor}/${c.digest.replace(/^sha256:/, '')}`;
      b.entity[cal] = {
        'prov:type': 'rigcap:Calibration',
        'rigcap:sensor': c.sensor,
        'rigcap:version': String(c.version),
      };
      b.rel('used', { 'prov:activity': ids.capture, 'prov:entity': cal });
    }
    for (const t of p.transforms) {
      const models = (t['modelDigests'] ?? {}) as Record<string, unknown>;
      for (const [model, digest] of Object.entries(models)) {
        const id = `rigcap:model/${model}/${String(digest)}`;
        b.entity[id] = { 'prov:type': 'rigcap:Model', 'rigcap:sha256': String(digest) };
        b.rel('used', { 'prov:activity': ids.deid, 'prov:entity': id });
      }
    }
  }
}
