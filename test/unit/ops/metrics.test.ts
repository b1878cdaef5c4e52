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
    expect(text).toContain('rigcap_deid_frames_per_second 8.7');
    expect(text).toContain('rigcap_deid_failed_frames_total 2');
    expect(text).toContain(`rigcap_sync_backlog_bytes ${9 * 2 ** 30}`);
    expect(text).toContain('rigcap_sync_goodput_bytes_per_second 1800000');
    expect(text).toContain('rigcap_sync_last_receipt_age_seconds 30');
    expect(text).toContain(`rigcap_disk_free_bytes ${120 * 2 ** 30}`);
    expect(text).toContain(`rigcap_disk_budget_bytes ${64 * 2 ** 30}`);
    expect(text).toContain('rigcap_recent_errors{code="RIGCAP_DISK_FULL"} 1');
    expect(text).toContain('# TYPE rigcap_stream_dropped_messages_total counter');
  });

  it('exposes the de-id holding area of spill mode', async () => {
    const base = fakeSnapshot();
    const snapshot: AgentSnapshot = {
      ...base,
      deid: {
        ...base.deid,
        holding: {
          mode: 'spill',
          heldFrames: 42,
          heldBytes: 12_000_000,
          budgetBytes: 2 ** 31,
          drop: 'oldest',
          oldestHeldNs: '1741946400000000000',
          blurredLate: 310,
          maxDelayNs: '2500000000',
          lost: { deid_holding_full: 0, deid_held_lost: 4 },
        },
      },
    };
    const text = await new AgentMetrics({ snapshot: () => snapshot }).render();
    expect(text).toContain('rigcap_deid_held_frames 42');
    expect(text).toContain('rigcap_deid_held_bytes 12000000');
    expect(text).toContain(`rigcap_deid_holding_budget_bytes ${2 ** 31}`);
    expect(text).toContain('rigcap_deid_blurred_late_frames_total 310');
    expect(text).toContain('rigcap_deid_late_max_delay_seconds 2.5');
    expect(text).toContain('rigcap_deid_held_lost_frames_total{cause="deid_held_lost"} 4');
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
