import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  type AccessPredicate,
  type CalibrationRef,
  type ChainFields,
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
  type TimesyncSummary,
} from '../../../agent/records/index.ts';
import { predicateSchemas, type PredicateSchemas } from '../../../agent/records/schemas.ts';

// The predicate types are derived from the schemas (agent/records/predicates.ts). These assertions are
// checked by the compiler: a predicate type (or one arm of a oneOf) that stops naming exactly the
// properties its schema states, because a field was written by hand beside the schema or dropped by
// an override, fails typecheck here.
type Arm<N extends PredicateName, I extends number> = PredicateSchemas[N] extends { oneOf: infer A }
  ? A extends readonly unknown[]
    ? A[I]
    : never
  : PredicateSchemas[N];
type SchemaKeys<N extends PredicateName, I extends number = 0> =
  Arm<N, I> extends { properties: infer P } ? keyof P : never;
type Variant<T, K extends keyof T, V> = Extract<T, Record<K, V>>;

describe('predicate types and their schemas', () => {
  it('each predicate type names exactly the properties its schema states', () => {
    expectTypeOf<keyof CaptureChunkPredicate>().toEqualTypeOf<SchemaKeys<'capture-chunk'>>();
    expectTypeOf<keyof Variant<SessionPredicate, 'phase', 'open'>>().toEqualTypeOf<
      SchemaKeys<'session', 0>
    >();
    expectTypeOf<keyof Variant<SessionPredicate, 'phase', 'close'>>().toEqualTypeOf<
      SchemaKeys<'session', 1>
    >();
    expectTypeOf<keyof HeartbeatPredicate>().toEqualTypeOf<SchemaKeys<'heartbeat'>>();
    expectTypeOf<keyof Variant<DeviceKeyPredicate, 'action', 'enrol'>>().toEqualTypeOf<
      SchemaKeys<'device-key', 0>
    >();
    expectTypeOf<keyof Variant<DeviceKeyPredicate, 'action', 'rotate'>>().toEqualTypeOf<
      SchemaKeys<'device-key', 1>
    >();
    expectTypeOf<keyof Variant<DeviceKeyPredicate, 'action', 'revoke'>>().toEqualTypeOf<
      SchemaKeys<'device-key', 2>
    >();
    expectTypeOf<keyof CustodyReceiptPredicate>().toEqualTypeOf<SchemaKeys<'custody-receipt'>>();
    expectTypeOf<keyof RetentionActionPredicate>().toEqualTypeOf<SchemaKeys<'retention-action'>>();
    expectTypeOf<keyof EventMarkerPredicate>().toEqualTypeOf<SchemaKeys<'event-marker'>>();
    expectTypeOf<keyof AccessPredicate>().toEqualTypeOf<SchemaKeys<'access'>>();
    // Fields the verifier and the exports read keep the shapes the schema states.
    expectTypeOf<CalibrationRef>().toEqualTypeOf<{
      sensor: string;
      digest: string;
      version: string | number;
    }>();
    expectTypeOf<TimesyncSummary['offsetNs']>().toEqualTypeOf<{
      min: string;
      max: string;
      mean: string;
      p95: string;
    } | null>();
    expectTypeOf<ChainFields['prev']>().toEqualTypeOf<string | null>();
  });

  it('the schema of every predicate name is an object or a oneOf of objects', () => {
    for (const name of Object.keys(predicateSchemas) as PredicateName[]) {
      const schema = predicateSchemas[name];
      const arms = (schema['oneOf'] as Array<Record<string, unknown>> | undefined) ?? [schema];
      for (const arm of arms)
        expect(arm, name).toMatchObject({ type: 'object', properties: expect.any(Object) });
    }
  });
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
