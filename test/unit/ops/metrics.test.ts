import { describe, expect, it } from 'vitest';
import { AgentMetrics } from '../../../agent/ops/metrics.ts';
import type { AgentSnapshot } from '../../../agent/ops/snapshot.ts';
import { fakeSnapshot } from '../../fixtures/ops/fake-snapshot.ts';

describe('AgentMetrics', () => {
  it('exposes the snapshot as Prometheus metrics', async () => {
    const metrics = new AgentMetrics({
      snapshot: () => fakeSnapshot(),
      nowMs: () => Date.parse('2025-03-14T10:00:30.000Z'),
    });
    metrics.observeSealSeconds(0.04);
    const text = await metrics.render();
    expect(text).toContain(
      'rigcap_stream_rate_messages_per_second{stream="front_camera",topic="/camera/front/image/compressed"} 29.5',
    );
    expect(text).toContain(
      'rigcap_stream_dropped_messages_total{stream="front_camera",cause="queue_full"} 12',
    );
    expect(text).toContain(
      'rigcap_stream_dropped_messages_total{stream="front_camera",cause="deid_backpressure"} 3',
    );
    expect(text).toContain('rigcap_stream_queue_depth{stream="front_camera"} 4');
    expect(text).toContain('rigcap_stream_bytes_total{stream="imu"} 12800000');
    expect(text).toContain('rigcap_chunk_seal_seconds_bucket{le="0.05"} 1');
    expect(text).toContain('rigcap_clock_offset_seconds 0.00125');
    expect(text).toContain('rigcap_clock_state{state="holdover",source="chrony"} 1');
    expect(text).toContain('rigcap_clock_state{state="locked",source="chrony"} 0');
    expect(text).toContain('rigcap_deid_frames_per_second 28.7');
    expect(text).toContain('rigcap_deid_failed_frames_total 2');
    expect(text).toContain(`rigcap_sync_backlog_bytes ${9 * 2 ** 30}`);
    expect(text).toContain('rigcap_sync_goodput_bytes_per_second 1800000');
    expect(text).toContain('rigcap_sync_last_receipt_age_seconds 30');
    expect(text).toContain(`rigcap_disk_free_bytes ${120 * 2 ** 30}`);
    expect(text).toContain(`rigcap_disk_budget_bytes ${64 * 2 ** 30}`);
    expect(text).toContain('rigcap_recent_errors{code="RIGCAP_DISK_FULL"} 1');
    expect(text).toContain('# TYPE rigcap_stream_dropped_messages_total counter');
  });

  it('follows the snapshot between scrapes and forgets streams that went away', async () => {
    let snap: AgentSnapshot = fakeSnapshot();
    const metrics = new AgentMetrics({ snapshot: () => snap });
    await metrics.render();
    snap = {
      ...fakeSnapshot(),
      streams: [{ ...fakeSnapshot().streams[1]!, received: 360_500 }],
      sync: { ...fakeSnapshot().sync, lastReceiptAt: null, etaSeconds: null },
    };
    const text = await metrics.render();
    expect(text).not.toContain('front_camera');
    expect(text).toContain('rigcap_stream_received_messages_total{stream="imu"} 360500');
    // Unknown is NaN, never a reassuring 0.
    expect(text).toMatch(/^rigcap_sync_last_receipt_age_seconds nan$/im);
    expect(text).toMatch(/^rigcap_sync_backlog_eta_seconds nan$/im);
  });
});
