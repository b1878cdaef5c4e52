import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { closeGaps } from '../../../agent/close-gaps.ts';
import { StreamLedger } from '../../../agent/pipeline/ledger.ts';
import { chunkFileName, type CaptureChunkPredicate } from '../../../agent/records/index.ts';
import { openSpool, type FixtureSpool } from './spool-fixture.ts';

const s = 1_000_000_000n;
const t0 = 1_700_000_000n * s;

async function sealChunk(spool: FixtureSpool, sessionId: string, index: number): Promise<void> {
  const dir = join(spool.rootDir, 'sessions', sessionId);
  await mkdir(dir, { recursive: true });
  const path = join(dir, chunkFileName(index));
  await writeFile(path, `chunk ${index}`);
  const startNs = t0 + BigInt(index - 1) * 10n * s;
  const endNs = startNs + 10n * s;
  const fields: Omit<CaptureChunkPredicate, 'chain' | 'bytes'> = {
    sessionId,
    chunkIndex: index,
    startNs: String(startNs),
    endNs: String(endNs),
    streams: [
      {
        topic: '/camera/front/image/compressed',
        type: 'sensor_msgs/msg/CompressedImage',
        count: 35,
        drops: { queue_full: 270 },
        upstreamLoss: 0,
      },
    ],
    timesync: {
      source: 'none',
      startNs: String(startNs),
      endNs: String(endNs),
      intervals: [{ state: 'unsynced', startNs: String(startNs), endNs: String(endNs) }],
      offsetNs: null,
      dispersionNs: null,
      samples: 0,
      steps: [],
      stateAtEnd: 'unsynced',
    },
    calibration: [{ sensor: 'cam_front', digest: 'a'.repeat(64), version: 1 }],
    transforms: [],
    producer: { rigcapVersion: '0', configDigest: 'c' },
    policy: { residency: 'EU', retentionDays: 1, purpose: 'p', owner: 'o' },
  };
  await spool.sealer.sealChunk({
    chunkPath: path,
    sha256: String(index).repeat(64).slice(0, 64),
    bytes: 8,
    predicateFields: fields,
  });
}

describe('session close gaps', () => {
  it('a stop signs loss windows from the ledger (by topic) and the clock from the chunk records', async () => {
    const spool = await openSpool({ deviceId: 'rig-g' });
    await spool.sealer.openSession({ sessionId: 'g1', rigId: 'r', startNs: t0 });
    await sealChunk(spool, 'g1', 1);
    await sealChunk(spool, 'g1', 2);
    let nowMs = Number(t0 / 1_000_000n) + 3000;
    const ledger = new StreamLedger({ nowMs: () => nowMs });
    ledger.drop('front', 'queue_full', 100);
    nowMs += 400;
    ledger.drop('front', 'queue_full', 170);
    nowMs += 5000;
    ledger.drop('front', 'snapshot_window', 3);
    const gaps = await closeGaps(spool.sealer.store, 'g1', {
      dropWindows: ledger.dropWindows.take(),
      heldLost: [],
      topicOf: new Map([['front', '/camera/front/image/compressed']]),
    });
    expect(gaps).toEqual([
      { startNs: String(t0), endNs: String(t0 + 20n * s), cause: 'unsynced', kind: 'clock_unsynced' },
      {
        startNs: String(t0 + 3n * s),
        endNs: String(t0 + 3n * s + 400_000_000n),
        cause: 'queue_full',
        kind: 'loss',
        stream: '/camera/front/image/compressed',
        counts: { queue_full: 270 },
      },
    ]);
    const close = await spool.sealer.closeSession({
      sessionId: 'g1',
      endNs: t0 + 20n * s,
      reason: 'stop',
      gaps,
    });
    expect(close.seq).toBeGreaterThan(0);
  });

  it("recovery of a crashed session names the downtime from its last signed record, and its chunks' drops by window", async () => {
    const spool = await openSpool({ deviceId: 'rig-h' });
    await spool.sealer.openSession({ sessionId: 'h1', rigId: 'r', startNs: t0 });
    await sealChunk(spool, 'h1', 1);
    const recoveredAtNs = t0 + 600n * s;
    const gaps = await closeGaps(spool.sealer.store, 'h1', { recoveredAtNs, heldLost: [] });
    expect(gaps.find((g) => g.kind === 'downtime')).toEqual({
      startNs: String(t0 + 10n * s),
      endNs: String(recoveredAtNs),
      cause: 'downtime',
      kind: 'downtime',
    });
    expect(gaps.find((g) => g.kind === 'loss')).toMatchObject({
      startNs: String(t0),
      endNs: String(t0 + 10n * s),
      counts: { queue_full: 270 },
    });
  });
});
