import { describe, expect, it } from 'vitest';
import {
  DropWindows,
  calibrationCovers,
  describeGap,
  formatBytes,
  formatDuration,
  formatPercent,
  predicateProblems,
  sessionGaps,
  type CaptureChunkPredicate,
} from '../../../agent/records/index.ts';

const s = 1_000_000_000n;

describe('gaps', () => {
  it('drop windows of a stream merge within 1 s, keep their causes apart, and start afresh after take()', () => {
    const w = new DropWindows();
    w.note('front', 'queue_full', 3, 10n * s);
    w.note('front', 'queue_full', 2, 10n * s + s / 2n);
    w.note('front', 'oversize', 1, 11n * s);
    w.note('front', 'queue_full', 4, 20n * s);
    w.note('rear', 'disk_budget', 5, 10n * s);
    w.note('rear', 'snapshot_window', 9, 10n * s);
    w.note('rear', 'deid_backpressure', 2, 10n * s);
    const windows = w.take();
    expect(windows).toEqual([
      {
        stream: 'front',
        kind: 'loss',
        startNs: 10n * s,
        endNs: 11n * s,
        counts: { queue_full: 5, oversize: 1 },
      },
      { stream: 'front', kind: 'loss', startNs: 20n * s, endNs: 20n * s, counts: { queue_full: 4 } },
      {
        stream: 'rear',
        kind: 'capture_paused',
        startNs: 10n * s,
        endNs: 10n * s,
        counts: { disk_budget: 5 },
      },
      { stream: 'rear', kind: 'deid', startNs: 10n * s, endNs: 10n * s, counts: { deid_backpressure: 2 } },
    ]);
    expect(w.take()).toEqual([]);
  });

  it('bounds the windows it keeps per stream: the newest absorbs the rest', () => {
    const w = new DropWindows({ maxWindowsPerStream: 3 });
    for (let i = 0n; i < 10n; i++) w.note('front', 'queue_full', 1, i * 10n * s);
    const windows = w.take();
    expect(windows).toHaveLength(3);
    expect(windows.reduce((n, x) => n + (x.counts['queue_full'] ?? 0), 0)).toBe(10);
    expect(windows[2]!.endNs).toBe(90n * s);
  });

  it('names drop windows, held frames lost and downtime as schema-valid typed gaps', () => {
    const w = new DropWindows();
    w.note('/cam', 'queue_full', 270, 5n * s);
    w.note('/cam', 'deid_held_lost', 4, 6n * s);
    const gaps = sessionGaps({
      chunks: [],
      dropWindows: w.take(),
      heldLost: [{ stream: '/cam', count: 4, startNs: 2n * s, endNs: 3n * s }],
      downtime: { startNs: 100n * s, endNs: 352n * s },
    });
    expect(gaps).toEqual([
      {
        startNs: String(2n * s),
        endNs: String(3n * s),
        cause: 'deid_held_lost',
        kind: 'deid',
        stream: '/cam',
        counts: { deid_held_lost: 4 },
      },
      {
        startNs: String(5n * s),
        endNs: String(5n * s),
        cause: 'queue_full',
        kind: 'loss',
        stream: '/cam',
        counts: { queue_full: 270 },
      },
      { startNs: String(100n * s), endNs: String(352n * s), cause: 'downtime', kind: 'downtime' },
    ]);
    const close = {
      chain: {
        deviceId: 'd',
        keyId: 'a'.repeat(64),
        seq: 2,
        prev: null,
        bootId: 'b',
        monoNs: '1',
        wallNs: '1',
      },
      sessionId: 's1',
      phase: 'close',
      rigId: 'r',
      startNs: '0',
      endNs: '1',
      chunks: 0,
      root: 'a'.repeat(64),
      gaps,
      reason: 'stop',
    };
    expect(predicateProblems('session', close)).toEqual([]);
    // An older close record's untyped gap still validates.
    expect(
      predicateProblems('session', { ...close, gaps: [{ startNs: '1', endNs: '2', cause: 'disk_full' }] }),
    ).toEqual([]);
    expect(describeGap(gaps[2]!)).toMatch(/\(4 min 12 s\): agent down/);
  });

  it('clock runs merge across chunks until another state is seen; calibration runs until a chunk has it', () => {
    const chunk = (i: number, state: 'locked' | 'unsynced', calibrated: boolean): CaptureChunkPredicate =>
      ({
        chunkIndex: i,
        startNs: String(BigInt(i) * 10n * s),
        endNs: String(BigInt(i) * 10n * s + 5n * s),
        streams: [
          {
            topic: '/lidar/points',
            type: 'sensor_msgs/msg/PointCloud2',
            count: 1,
            drops: {},
            upstreamLoss: 0,
          },
        ],
        timesync: {
          intervals: [
            { state, startNs: String(BigInt(i) * 10n * s + s), endNs: String(BigInt(i) * 10n * s + 2n * s) },
          ],
          steps: [],
        },
        calibration: calibrated ? [{ sensor: 'lidar', digest: 'a'.repeat(64), version: 1 }] : [],
      }) as unknown as CaptureChunkPredicate;
    const gaps = sessionGaps({
      chunks: [
        chunk(1, 'unsynced', false),
        chunk(2, 'unsynced', false),
        chunk(3, 'locked', true),
        chunk(4, 'unsynced', false),
      ],
    });
    expect(gaps.map((g) => [g.kind, g.startNs, g.endNs])).toEqual([
      ['calibration_missing', String(10n * s), String(25n * s)],
      ['clock_unsynced', String(11n * s), String(22n * s)],
      ['calibration_missing', String(40n * s), String(45n * s)],
      ['clock_unsynced', String(41n * s), String(42n * s)],
    ]);
  });

  it('speaks human units', () => {
    expect(formatDuration(252n * s)).toBe('4 min 12 s');
    expect(formatDuration(30_171_000_196n)).toBe('30 s');
    expect(formatDuration(350_000_000n)).toBe('350 ms');
    expect(formatDuration(7_380n * s)).toBe('2 h 3 min');
    expect(formatDuration(0n)).toBe('0 s');
    expect(formatBytes(1.2 * 1024 ** 3)).toBe('1.2 GiB');
    expect(formatBytes(512)).toBe('512 B');
    expect(formatPercent(270, 305)).toBe('89 %');
    expect(formatPercent(1, 1000)).toBe('0.1 %');
    expect(formatPercent(0, 0)).toBe('0 %');
  });

  it('a calibration covers a stream when every word of its sensor name is a word of the topic', () => {
    expect(calibrationCovers('cam_front', '/camera/front/image/compressed')).toBe(true);
    expect(calibrationCovers('cam_front', '/camera/rear/image/compressed')).toBe(false);
    expect(calibrationCovers('lidar', '/lidar/points')).toBe(true);
    expect(calibrationCovers('gps', '/gnss/fix')).toBe(true);
    expect(calibrationCovers('cam0', '/imu')).toBe(false);
  });
});
