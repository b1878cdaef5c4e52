import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  type AccessPredicate,
  buildRecord,
  decodeRecord,
  generateKeyPair,
  keySubject,
  nodeSigner,
  pemOfSpki,
  previousRecordSubject,
  serializeEnvelope,
  type CaptureChunkPredicate,
  type CustodyReceiptPredicate,
  type DecodedRecord,
  type DeviceKeyPredicate,
  type EventMarkerPredicate,
  type HeartbeatPredicate,
  type PredicateName,
  type RetentionActionPredicate,
  type SessionPredicate,
} from '../../../agent/records/index.ts';
import { predicateSchemas } from '../../../agent/records/schemas.ts';

// Every key of each hand-written predicate type, checked by the compiler: a key the type gains or
// loses fails typecheck here (Record<keyof T, true> with `satisfies` refuses extras and omissions),
// and a property the schema gains or loses fails the test below.
type Variant<T, K extends keyof T, V> = Extract<T, Record<K, V>>;
const keyTables = {
  'capture-chunk': [
    {
      chain: true,
      sessionId: true,
      chunkIndex: true,
      startNs: true,
      endNs: true,
      bytes: true,
      streams: true,
      timesync: true,
      calibration: true,
      transforms: true,
      producer: true,
      policy: true,
      context: true,
      regions: true,
      outsideGeofences: true,
    } satisfies Record<keyof CaptureChunkPredicate, true>,
  ],
  session: [
    {
      chain: true,
      sessionId: true,
      phase: true,
      rigId: true,
      startNs: true,
      context: true,
      producer: true,
      config: true,
    } satisfies Record<keyof Variant<SessionPredicate, 'phase', 'open'>, true>,
    {
      chain: true,
      sessionId: true,
      phase: true,
      rigId: true,
      startNs: true,
      endNs: true,
      chunks: true,
      root: true,
      gaps: true,
      reason: true,
    } satisfies Record<keyof Variant<SessionPredicate, 'phase', 'close'>, true>,
  ],
  heartbeat: [
    { chain: true, sessionId: true, uptimeNs: true, status: true } satisfies Record<
      keyof HeartbeatPredicate,
      true
    >,
  ],
  'device-key': [
    { chain: true, action: true, keyId: true, publicKey: true, region: true } satisfies Record<
      keyof Variant<DeviceKeyPredicate, 'action', 'enrol'>,
      true
    >,
    { chain: true, action: true, keyId: true, newKeyId: true, newPublicKey: true } satisfies Record<
      keyof Variant<DeviceKeyPredicate, 'action', 'rotate'>,
      true
    >,
    { chain: true, action: true, keyId: true, invalidFromSeq: true, reason: true } satisfies Record<
      keyof Variant<DeviceKeyPredicate, 'action', 'revoke'>,
      true
    >,
  ],
  'custody-receipt': [
    {
      chain: true,
      record: true,
      blob: true,
      receivedWallNs: true,
      log: true,
      region: true,
    } satisfies Record<keyof CustodyReceiptPredicate, true>,
  ],
  'retention-action': [
    { chain: true, deleted: true, reason: true } satisfies Record<keyof RetentionActionPredicate, true>,
  ],
  'event-marker': [
    {
      chain: true,
      sessionId: true,
      label: true,
      note: true,
      atNs: true,
      operator: true,
    } satisfies Record<keyof EventMarkerPredicate, true>,
  ],
  access: [{ chain: true, entries: true } satisfies Record<keyof AccessPredicate, true>],
} satisfies Record<PredicateName, Array<Record<string, true>>>;

/** The property names of each top-level variant of a predicate schema (oneOf arms, or the object). */
function schemaKeySets(schema: Record<string, unknown>): string[][] {
  const arms = (schema['oneOf'] as Array<Record<string, unknown>> | undefined) ?? [schema];
  return arms.map((arm) => Object.keys(arm['properties'] as object).sort());
}

describe('predicate types and their schemas', () => {
  for (const [name, tables] of Object.entries(keyTables)) {
    it(`${name}: the type names exactly the properties its schema states`, () => {
      const schema = predicateSchemas[name as PredicateName];
      expect(schemaKeySets(schema)).toEqual(tables.map((t) => Object.keys(t).sort()));
    });
  }
});

describe('decoded records', () => {
  const signer = nodeSigner(generateKeyPair().privateKeyPem);
  const context = { signerId: 'rig-a', bootId: 'b', monoNs: 5n, wallNs: 1_700_000_000_000_000_000n };
  const encode = (rec: ReturnType<typeof buildRecord>): Uint8Array => serializeEnvelope(rec.envelope);
  const enrol = encode(
    buildRecord({
      name: 'device-key',
      body: { action: 'enrol', keyId: signer.keyId, publicKey: pemOfSpki(signer.publicKeySpki) },
      subject: keySubject(signer.keyId),
      link: { seq: 1, prev: null },
      context,
      signer,
    }),
  );
  const marker = encode(
    buildRecord({
      name: 'event-marker',
      body: { sessionId: null, label: 'lap', note: '', atNs: '7', operator: 'op' },
      subject: previousRecordSubject({ seq: 2, prev: 'a'.repeat(64) }),
      link: { seq: 2, prev: 'a'.repeat(64) },
      context,
      signer,
    }),
  );

  /** What a reader says of a record: each branch reads its own predicate's fields, with no cast. */
  function describeRecord(r: DecodedRecord): string {
    switch (r.name) {
      case 'device-key':
        expectTypeOf(r.predicate).toEqualTypeOf<DeviceKeyPredicate>();
        return r.predicate.action === 'enrol' ? `enrol ${r.predicate.keyId}` : r.predicate.action;
      case 'event-marker':
        expectTypeOf(r.predicate).toEqualTypeOf<EventMarkerPredicate>();
        return `marker ${r.predicate.label} at ${r.predicate.atNs}`;
      default:
        return r.name;
    }
  }

  it('are a union on the predicate name: a switch on name narrows the predicate', () => {
    const decoded = [enrol, marker].map((bytes) => decodeRecord(bytes));
    const described = decoded.map((d) => (d.ok ? describeRecord(d.record) : d.reason));
    expect(described).toEqual([`enrol ${signer.keyId}`, 'marker lap at 7']);
  });
});
