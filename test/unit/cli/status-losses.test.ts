import { describe, expect, it } from 'vitest';
import { formatStatus, streamLoss } from '../../../agent/cli/status.ts';
import { fakeSnapshot } from '../../fixtures/ops/fake-snapshot.ts';

describe('rigcap status, losses and de-id', () => {
  it('leads with the streams losing data, with their share, and shows lost per stream', () => {
    const text = formatStatus({ ...fakeSnapshot(), running: true, source: 'agent' });
    const lines = text.split('\n');
    expect(lines[1]).toBe('LOSING DATA  front_camera <0.1% (queue_full=12 deid_backpressure=3)');
    expect(text).toMatch(/front_camera .* 15 \(<0\.1%\) {2}queue_full=12 deid_backpressure=3/);
    expect(text).toMatch(/imu .* 0 {2}-/);
    expect(text).toContain(
      'de-id        8.7 fps blurred (last 10 s), 12 of 300 frames dropped, 2 failed: WARN dropping 4% of frames',
    );
  });

  it('counts upstream loss in what a stream was offered, and says nothing alarming when all is well', () => {
    const imu = {
      ...fakeSnapshot().streams[1]!,
      received: 900,
      drops: { upstream_loss: 100, queue_full: 100 },
    };
    expect(streamLoss(imu)).toEqual({
      causes: [
        ['upstream_loss', 100],
        ['queue_full', 100],
      ],
      lost: 200,
      share: 0.2,
    });
    const calm = fakeSnapshot();
    calm.streams = calm.streams.map((s) => ({ ...s, drops: {} }));
    calm.deid = {
      fps: 9,
      windowSec: 10,
      recent: { received: 90, dropped: 0 },
      health: 'ok',
      reason: '',
      failed: 0,
      degraded: false,
    };
    const text = formatStatus({ ...calm, running: true, source: 'agent' });
    expect(text).not.toContain('LOSING');
    expect(text).toContain('de-id        9.0 fps blurred (last 10 s), 0 of 90 frames dropped, 0 failed\n');
  });
});
