import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ChainState,
  buildRecord,
  chunkSubject,
  decodeRecord,
  generateKeyPair,
  keySubject,
  nodeSigner,
  parsePredicateType,
  pemOfSpki,
  predicateNames,
  predicateProblems,
  predicateTypeOf,
  previousRecordSubject,
  serializeEnvelope,
  sessionRoot,
  upgradePredicate,
} from '../../../agent/records/index.ts';

const signer = nodeSigner(generateKeyPair().privateKeyPem);
const context = { signerId: 'rig-a', bootId: 'b', monoNs: 5n, wallNs: 1_700_000_000_000_000_000n };
const sha = (s: string | Uint8Array): string => createHash('sha256').update(s).digest('hex');

describe('ChainState', () => {
  it('starts at seq 1 with prev null and links each record to the previous payload digest', () => {
    const chain = new ChainState(null);
    expect(chain.next()).toEqual({ seq: 1, prev: null });
    chain.advance({ seq: 1, payloadSha256: 'a'.repeat(64) });
    expect(chain.next()).toEqual({ seq: 2, prev: 'a'.repeat(64) });
  });

  it('refuses to advance to anything but the next seq (no reuse, no fork)', () => {
    const chain = new ChainState({ seq: 7, payloadSha256: 'b'.repeat(64) });
    expect(() => chain.advance({ seq: 7, payloadSha256: 'c'.repeat(64) })).toThrow(RangeError);
    expect(() => chain.advance({ seq: 9, payloadSha256: 'c'.repeat(64) })).toThrow(RangeError);
  });

  it('builds records whose prev is the SHA-256 of the previous JCS payload, for any chain length', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 12 }), (n) => {
        const chain = new ChainState(null);
        let prevPayload: Uint8Array | undefined;
        for (let i = 0; i < n; i++) {
          const link = chain.next();
          const rec = buildRecord({
            name: 'heartbeat',
            body: { sessionId: null, uptimeNs: String(i), status: {} },
            subject: previousRecordSubject(link),
            link,
            context,
            signer,
          });
          const decoded = decodeRecord(serializeEnvelope(rec.envelope));
          if (!decoded.ok) throw new Error(decoded.reason);
          expect(decoded.record.chain.seq).toBe(i + 1);
          expect(decoded.record.chain.prev).toBe(prevPayload === undefined ? null : sha(prevPayload));
          expect(decoded.record.payloadSha256).toBe(sha(rec.payload));
          chain.advance({ seq: rec.seq, payloadSha256: rec.payloadSha256 });
          prevPayload = rec.payload;
        }
      }),
      { numRuns: 20 },
    );
  });

  it('writes nanosecond times as decimal strings, seq as a number, and the exact chunk subject', () => {
    const link = { seq: 3, prev: 'd'.repeat(64) };
    const rec = buildRecord({
      name: 'device-key',
      body: { action: 'enrol', keyId: signer.keyId, publicKey: pemOfSpki(signer.publicKeySpki) },
      subject: keySubject(signer.keyId),
      link,
      context,
      signer,
    });
    const statement = JSON.parse(Buffer.from(rec.envelope.payload, 'base64').toString('utf8')) as {
      predicate: { chain: Record<string, unknown> };
      predicateType: string;
      _type: string;
    };
    expect(statement._type).toBe('https://in-toto.io/Statement/v1');
    expect(statement.predicateType).toBe('https://rigcap.dev/device-key/v1');
    expect(statement.predicate.chain).toEqual({
      deviceId: 'rig-a',
      keyId: signer.keyId,
      seq: 3,
      prev: 'd'.repeat(64),
      bootId: 'b',
      monoNs: '5',
      wallNs: '1700000000000000000',
    });
    expect(chunkSubject('chunk-000001.mcap', 'e'.repeat(64))).toEqual([
      { name: 'chunk-000001.mcap', digest: { sha256: 'e'.repeat(64) } },
    ]);
  });

  it('refuses to sign a predicate that breaks its schema', () => {
    expect(() =>
      buildRecord({
        name: 'event-marker',
        body: { sessionId: null, label: '', note: '', atNs: '1', operator: '' },
        subject: previousRecordSubject({ seq: 2, prev: 'a'.repeat(64) }),
        link: { seq: 2, prev: 'a'.repeat(64) },
        context,
        signer,
      }),
    ).toThrow(/event-marker predicate invalid/);
  });
});

describe('predicates', () => {
  const chain = {
    deviceId: 'rig-a',
    keyId: 'a'.repeat(64),
    seq: 1,
    prev: null,
    bootId: 'b',
    monoNs: '1',
    wallNs: '2',
  };
  const samples: Record<string, unknown> = {
    'capture-chunk': {
      chain,
      sessionId: 's1',
      chunkIndex: 1,
      startNs: '1',
      endNs: '2',
      bytes: '100',
      streams: [
        { topic: '/imu', type: 'sensor_msgs/msg/Imu', count: 3, drops: { queue_full: 1 }, upstreamLoss: 0 },
      ],
      timesync: {
        source: 'ptp',
        startNs: '1',
        endNs: '2',
        intervals: [{ state: 'holdover', startNs: '1', endNs: '2' }],
        offsetNs: { min: '-20', max: '30', mean: '2', p95: '25' },
        dispersionNs: null,
        samples: 4,
        steps: [{ atNs: '1', stepNs: '-5' }],
        stateAtEnd: 'holdover',
      },
      calibration: [{ sensor: 'cam0', digest: 'b'.repeat(64), version: 'v3' }],
      transforms: [
        {
          kind: 'deid',
          framesIn: 4,
          framesDetected: 2,
          framesFailed: 0,
          framesDropped: 0,
          boxes: 3,
          onFailure: 'drop',
          exemptStreams: [],
        },
      ],
      producer: { rigcapVersion: '0.1.0', configDigest: 'c' },
      policy: { residency: 'EU', retentionDays: 30, purpose: 'mapping' },
    },
    session: {
      chain,
      sessionId: 's1',
      phase: 'close',
      rigId: 'r',
      startNs: '1',
      endNs: '2',
      chunks: 0,
      root: sessionRoot([]),
      gaps: [{ startNs: '1', endNs: '2', cause: 'disk_full' }],
      reason: 'stop',
    },
    heartbeat: { chain, sessionId: null, uptimeNs: '1', status: { backlog: 2 } },
    'device-key': { chain, action: 'revoke', keyId: 'a'.repeat(64), invalidFromSeq: 4, reason: 'lost' },
    'custody-receipt': {
      chain,
      record: { signer: 'rig-a', seq: 4, sha256: 'a'.repeat(64) },
      blob: null,
      receivedWallNs: '3',
      log: { index: 0, size: 1, root: 'a'.repeat(64) },
    },
    'retention-action': {
      chain,
      deleted: [{ session: 's1', name: 'chunk-000001.mcap', sha256: 'a'.repeat(64) }],
      reason: 'retentionDays',
    },
    'event-marker': { chain, sessionId: 's1', label: 'near miss', note: '', atNs: '5', operator: 'ana' },
    access: {
      chain,
      entries: [
        {
          reader: 'ana',
          role: 'auditor',
          action: 'read',
          route: '/v1/blobs/sha256/:hex',
          object: 'a'.repeat(64),
          sha256: 'a'.repeat(64),
          sessionId: 's1',
          purpose: 'incident review',
          atNs: '6',
          status: 200,
          outcome: 'read',
          code: null,
        },
      ],
    },
  };

  it('every predicate has a schema that accepts a full example and rejects a float time', () => {
    for (const name of predicateNames) {
      expect(predicateProblems(name, samples[name])).toEqual([]);
      expect(
        predicateProblems(name, { ...(samples[name] as object), chain: { ...chain, wallNs: 1.5 } }),
      ).not.toEqual([]);
    }
  });

  it('parses predicateType URIs and rejects foreign ones', () => {
    expect(parsePredicateType(predicateTypeOf('capture-chunk'))).toEqual({
      name: 'capture-chunk',
      version: 2,
    });
    expect(parsePredicateType('https://example.com/capture-chunk/v1')).toBeUndefined();
  });

  it('migrates older predicate versions through the hook and refuses unknown future ones', () => {
    const migrations = {
      heartbeat: {
        1: (b: Record<string, unknown>) => ({ ...b, status: b['health'] ?? {}, health: undefined }),
      },
    };
    const v1 = { chain, sessionId: null, uptimeNs: '1', health: { ok: true } };
    const up = upgradePredicate('https://rigcap.dev/heartbeat/v1', v1, { migrations, currentVersion: 2 });
    expect(up).toMatchObject({ ok: true, version: 2, body: { status: { ok: true } } });
    expect(
      upgradePredicate('https://rigcap.dev/heartbeat/v1', v1, { migrations: {}, currentVersion: 2 }),
    ).toMatchObject({ ok: false });
    expect(upgradePredicate('https://rigcap.dev/heartbeat/v9', v1)).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/newer/),
    });
    expect(upgradePredicate('https://rigcap.dev/heartbeat/v1', samples['heartbeat'])).toMatchObject({
      ok: true,
      version: 1,
    });
  });
});

describe('session root (RFC 6962 over chunk digests)', () => {
  const d = (i: number): string => sha(`chunk-${i}`);
  const leaf = (h: string): Buffer =>
    createHash('sha256')
      .update(Buffer.concat([Buffer.of(0), Buffer.from(h, 'hex')]))
      .digest();
  const node = (l: Buffer, r: Buffer): Buffer =>
    createHash('sha256')
      .update(Buffer.concat([Buffer.of(1), l, r]))
      .digest();

  it('empty = SHA-256(""), one chunk = its leaf hash, three = node(node(l0,l1), l2)', () => {
    expect(sessionRoot([])).toBe(sha(''));
    expect(sessionRoot([d(0)])).toBe(leaf(d(0)).toString('hex'));
    expect(sessionRoot([d(0), d(1), d(2)])).toBe(
      node(node(leaf(d(0)), leaf(d(1))), leaf(d(2))).toString('hex'),
    );
  });

  it('changes when any digest changes or the order changes', () => {
    const list = [0, 1, 2, 3, 4].map(d);
    const root = sessionRoot(list);
    expect(sessionRoot([...list].reverse())).not.toBe(root);
    expect(sessionRoot([...list.slice(0, 4), d(9)])).not.toBe(root);
    expect(sessionRoot(list.slice(0, 4))).not.toBe(root);
  });
});
