import { describe, expect, it } from 'vitest';
import {
  gatherSession,
  type CaptureChunkPredicate,
  type SessionRecords,
} from '../../../agent/records/index.ts';
import {
  chainFileFailures,
  traceEvidenceFailures,
  traceSample,
  type TraceQuery,
} from '../../../agent/records/trace.ts';
import {
  buildSession,
  chainsOf,
  fixtureSessionId,
  type FixtureOptions,
} from '../../support/readiness-fixture.ts';

const front = '/camera/front/image/compressed';
const minute = 60_000_000_000n;

function session(o: FixtureOptions = {}): SessionRecords {
  return gatherSession(fixtureSessionId, chainsOf(buildSession(o)))!;
}
const startOf = (s: SessionRecords): bigint =>
  BigInt((s.chunks[0]!.predicate as unknown as CaptureChunkPredicate).startNs);
const at = (s: SessionRecords, offsetNs: bigint, topic = front): TraceQuery => ({
  kind: 'sample',
  topic,
  atNs: startOf(s) + offsetNs,
  aroundNs: 10_000_000_000n,
});

describe('trace of one sample from signed records', () => {
  it('names the chunk, device, calibrations, clock, de-id models and receipt in force at that instant', () => {
    const s = session();
    const r = traceSample(s, at(s, minute + minute / 2n));
    if (!r.ok) throw new Error(r.reason);
    const a = r.answer;
    expect(a.chunk).toMatchObject({ name: 'chunk-000002.mcap', chunkIndex: 2, alsoIn: [] });
    expect(a.chunk.record).toEqual({
      signer: 'rig-fixture',
      seq: r.chunkRecord.chain.seq,
      sha256: r.chunkRecord.payloadSha256,
    });
    expect(a.device).toMatchObject({ deviceId: 'rig-fixture', rigId: 'rig', bootId: 'boot-1' });
    expect(a.device.keyRecord?.seq).toBe(1);
    expect(a.device.policy.owner).toBe('fleet team');
    expect(a.calibration.find((c) => c.sensor === 'cam_front')).toMatchObject({
      coversTopic: true,
      version: '1',
      inForceSinceChunk: 1,
    });
    expect(a.calibration.find((c) => c.sensor === 'lidar')?.coversTopic).toBe(false);
    expect(a.clock).toMatchObject({ state: 'locked', source: 'chrony', samples: 60 });
    expect(a.deid).toHaveLength(1);
    expect(a.deid[0]).toMatchObject({ appliesToTopic: true, frames: { in: 1200 } });
    expect(a.receipts).toHaveLength(1);
    expect(a.receipts[0]).toMatchObject({ storeId: 'store-fixture', signature: 'verified' });
    expect(a.receipts[0]!.log.index).toBe(r.chunkRecord.chain.seq);
    expect(a.around.topic.map((t) => t.chunkIndex)).toEqual([2]);
    expect(a.markers).toEqual([]);
    expect(traceEvidenceFailures(s, r.chunkRecord, { kind: 'not-in-bundle' })).toEqual([]);
  });

  it('an unsynced clock, drops and a missing receipt show in exactly the fields they concern', () => {
    const s = session({ unsynced: true, drops: true, missingReceipt: true });
    const r = traceSample(s, at(s, minute + 1n));
    if (!r.ok) throw new Error(r.reason);
    expect(r.answer.clock.state).toBe('unsynced');
    expect(r.answer.clock.interval?.state).toBe('unsynced');
    expect(r.answer.around.topic.find((t) => t.chunkIndex === 2)?.drops).toEqual({ queue_full: 50 });
    expect(r.answer.around.gaps.some((g) => g.kind === 'loss' && g.stream === front)).toBe(true);
    expect(r.answer.around.gaps.some((g) => g.kind === 'clock_unsynced')).toBe(true);
    expect(r.answer.receipts).toEqual([]);
    // The rear camera's calibration is still there; the lidar's traced window has no loss of its own.
    const lidar = traceSample(s, at(s, minute + 1n, '/lidar/points'));
    if (!lidar.ok) throw new Error(lidar.reason);
    expect(lidar.answer.around.gaps.filter((g) => g.kind === 'loss')).toEqual([]);
    expect(lidar.answer.deid[0]?.appliesToTopic).toBe(false);
  });

  it('an instant on a chunk boundary is in both chunks; outside the session or on an unknown topic there is no answer', () => {
    const s = session();
    const edge = traceSample(s, at(s, minute));
    expect(edge.ok && edge.answer.chunk.alsoIn).toEqual(['chunk-000002.mcap']);
    const late = traceSample(s, at(s, 10n * minute));
    expect(late.ok).toBe(false);
    expect(!late.ok && late.reason).toMatch(/no chunk of session .* holds/);
    const nope = traceSample(s, at(s, minute, '/nope'));
    expect(!nope.ok && nope.reason).toMatch(/has no stream \/nope/);
  });

  it('by chunk digest: the chunk is found; a file that hashes otherwise, or a chain with a hole, fails verification', () => {
    const s = session();
    const sha = s.chunks[2]!.subject[0]!.digest.sha256;
    const r = traceSample(s, { kind: 'chunk', sha256: sha, aroundNs: 0n });
    if (!r.ok) throw new Error(r.reason);
    expect(r.answer.chunk.chunkIndex).toBe(3);
    const bytes = Number((r.chunkRecord.predicate as unknown as CaptureChunkPredicate).bytes);
    expect(
      traceEvidenceFailures(s, r.chunkRecord, { kind: 'present', sha256: sha, bytes, sidecar: undefined }),
    ).toEqual([]);
    const tampered = traceEvidenceFailures(s, r.chunkRecord, {
      kind: 'present',
      sha256: 'f'.repeat(64),
      bytes,
      sidecar: undefined,
    });
    expect(tampered.map((f) => f.code)).toEqual(['VERIFY_DIGEST_MISMATCH']);
    const absent = traceEvidenceFailures(s, r.chunkRecord, { kind: 'absent', deletedByRetention: false });
    expect(absent.map((f) => f.code)).toEqual(['VERIFY_CHUNK_MISSING']);

    const holed = session({ chainGap: true });
    const h = traceSample(holed, {
      kind: 'chunk',
      sha256: holed.chunks[1]!.subject[0]!.digest.sha256,
      aroundNs: 0n,
    });
    if (!h.ok) throw new Error(h.reason);
    expect(
      traceEvidenceFailures(holed, h.chunkRecord, { kind: 'not-in-bundle' }).map((f) => f.code),
    ).toContain('VERIFY_SESSION_ROOT');
  });

  it('a record file that does not decode, or a seq missing below the head, is a chain failure', () => {
    const names = ['000000000001.dsse.json', '000000000002.dsse.json', '000000000004.dsse.json', 'x.tmp-1'];
    expect(chainFileFailures('rig', names, new Set([1, 2, 4]))).toEqual([
      expect.objectContaining({ code: 'VERIFY_CHAIN_GAP', file: 'records/rig/000000000003.dsse.json' }),
    ]);
    expect(chainFileFailures('rig', names.slice(0, 2), new Set([1]))).toEqual([
      expect.objectContaining({ code: 'VERIFY_MALFORMED', file: 'records/rig/000000000002.dsse.json' }),
    ]);
    expect(chainFileFailures('rig', [], new Set())).toEqual([]);
  });
});
