// Prometheus metrics for the agent. Every scrape takes one AgentSnapshot and writes it into the
// registry, so /metrics, /status.json and `rigcap status` never disagree. Only chunk seal latency is
// observed as events (a histogram cannot be rebuilt from a snapshot).
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { AgentSnapshot, ClockState, DiskState, SnapshotSource } from './snapshot.ts';

const clockStates: readonly ClockState[] = ['locked', 'holdover', 'unsynced', 'unknown'];
const diskStates: readonly DiskState[] = ['ok', 'low', 'full'];

export interface AgentMetricsOptions {
  snapshot: SnapshotSource;
  /** Wall clock in ms, for the age of the last receipt (injected by tests). */
  nowMs?: () => number;
}

/** The agent's Prometheus registry, filled from snapshots at scrape time. */
export class AgentMetrics {
  readonly registry = new Registry();
  readonly contentType: string = this.registry.contentType;
  readonly #snapshot: SnapshotSource;
  readonly #nowMs: () => number;

  readonly #streamRate = this.#gauge(
    'rigcap_stream_rate_messages_per_second',
    'Messages per second per stream',
    ['stream', 'topic'],
  );
  readonly #streamBytes = this.#counter('rigcap_stream_bytes_total', 'Bytes written per stream', ['stream']);
  readonly #streamReceived = this.#counter(
    'rigcap_stream_received_messages_total',
    'Messages received per stream',
    ['stream'],
  );
  readonly #streamDrops = this.#counter(
    'rigcap_stream_dropped_messages_total',
    'Messages dropped per stream, by cause',
    ['stream', 'cause'],
  );
  readonly #queueDepth = this.#gauge(
    'rigcap_stream_queue_depth',
    'Samples waiting between driver and writer',
    ['stream'],
  );
  readonly #streamDegraded = this.#gauge('rigcap_stream_degraded', '1 when the stream is degraded', [
    'stream',
  ]);
  readonly #sealSeconds = new Histogram({
    name: 'rigcap_chunk_seal_seconds',
    help: 'Time from closing a chunk to its signed record on disk',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly #clockOffset = this.#gauge(
    'rigcap_clock_offset_seconds',
    'Offset of the system clock to its reference',
    [],
  );
  readonly #clockState = this.#gauge('rigcap_clock_state', '1 for the current clock state', [
    'state',
    'source',
  ]);
  readonly #deidFps = this.#gauge('rigcap_deid_frames_per_second', 'De-identified frames per second', []);
  readonly #deidFailed = this.#counter(
    'rigcap_deid_failed_frames_total',
    'Frames de-identification failed on (dropped)',
    [],
  );
  readonly #deidDegraded = this.#gauge('rigcap_deid_degraded', '1 when de-identification is degraded', []);
  readonly #deidHeldFrames = this.#gauge(
    'rigcap_deid_held_frames',
    'Frames sealed in the de-id holding area, not yet blurred',
    [],
  );
  readonly #deidHeldBytes = this.#gauge('rigcap_deid_held_bytes', 'Bytes in the de-id holding area', []);
  readonly #deidHoldingBudget = this.#gauge(
    'rigcap_deid_holding_budget_bytes',
    'Byte budget of the de-id holding area',
    [],
  );
  readonly #deidBlurredLate = this.#counter(
    'rigcap_deid_blurred_late_frames_total',
    'Held frames blurred later and written',
    [],
  );
  readonly #deidMaxDelay = this.#gauge(
    'rigcap_deid_late_max_delay_seconds',
    'Longest time a held frame waited before it was blurred',
    [],
  );
  readonly #deidHeldLost = this.#counter(
    'rigcap_deid_held_lost_frames_total',
    'Held frames never blurred, by cause',
    ['cause'],
  );
  readonly #syncBacklogBytes = this.#gauge(
    'rigcap_sync_backlog_bytes',
    'Bytes of sealed chunks not yet receipted',
    [],
  );
  readonly #syncBacklogChunks = this.#gauge(
    'rigcap_sync_backlog_chunks',
    'Sealed chunks not yet receipted',
    [],
  );
  readonly #syncGoodput = this.#gauge('rigcap_sync_goodput_bytes_per_second', 'Upload goodput', []);
  readonly #syncEta = this.#gauge(
    'rigcap_sync_backlog_eta_seconds',
    'Seconds until the backlog drains at the current goodput',
    [],
  );
  readonly #syncBlocked = this.#gauge(
    'rigcap_sync_blocked',
    '1 while sync sends nothing to the store, by code (RIGCAP_SYNC_REGION_NOT_ALLOWED) and store region',
    ['code', 'region'],
  );
  readonly #syncReceiptAge = this.#gauge(
    'rigcap_sync_last_receipt_age_seconds',
    'Seconds since the last custody receipt',
    [],
  );
  readonly #diskFree = this.#gauge('rigcap_disk_free_bytes', 'Free bytes on the spool filesystem', []);
  readonly #diskUsed = this.#gauge('rigcap_disk_used_bytes', 'Bytes the spool uses', []);
  readonly #diskBudget = this.#gauge('rigcap_disk_budget_bytes', 'Spool disk budget', []);
  readonly #diskState = this.#gauge('rigcap_disk_state', '1 for the current disk budget state', ['state']);
  readonly #sessionChunks = this.#gauge('rigcap_session_chunks', 'Chunks sealed in the current session', []);
  readonly #errors = this.#gauge('rigcap_recent_errors', 'Errors in the recent-errors list, by code', [
    'code',
  ]);
  readonly #uptime = this.#gauge('rigcap_uptime_seconds', 'Seconds since the agent started', []);
  readonly #buildInfo = this.#gauge('rigcap_build_info', 'Always 1; labelled with the version', ['version']);

  constructor(options: AgentMetricsOptions) {
    this.#snapshot = options.snapshot;
    this.#nowMs = options.nowMs ?? Date.now;
  }

  /** Records how long sealing one chunk took. */
  observeSealSeconds(seconds: number): void {
    this.#sealSeconds.observe(seconds);
  }

  /** Takes a snapshot and renders the Prometheus text exposition. */
  async render(): Promise<string> {
    this.apply(this.#snapshot());
    return this.registry.metrics();
  }

  /** Writes one snapshot into the registry; label sets of vanished streams are dropped. */
  apply(s: AgentSnapshot): void {
    for (const metric of [
      this.#streamRate,
      this.#streamBytes,
      this.#streamReceived,
      this.#streamDrops,
      this.#queueDepth,
      this.#streamDegraded,
      this.#clockState,
      this.#diskState,
      this.#errors,
      this.#buildInfo,
    ]) {
      metric.reset();
    }
    for (const st of s.streams) {
      this.#streamRate.set({ stream: st.name, topic: st.topic }, st.ratePerSec);
      this.#streamBytes.inc({ stream: st.name }, st.bytes);
      this.#streamReceived.inc({ stream: st.name }, st.received);
      this.#queueDepth.set({ stream: st.name }, st.queueDepth);
      this.#streamDegraded.set({ stream: st.name }, st.degraded ? 1 : 0);
      for (const [cause, count] of Object.entries(st.drops))
        this.#streamDrops.inc({ stream: st.name, cause }, count);
    }
    // Drops no configured stream owns (unknown topic, unreadable frame) carry stream="".
    for (const [cause, count] of Object.entries(s.unattributedDrops))
      this.#streamDrops.inc({ stream: '', cause }, count);
    // NaN (not 0) for unknown values: 0 would read as "perfectly synced" or "receipt just now".
    this.#clockOffset.set(s.clock.offsetNs === null ? Number.NaN : Number(BigInt(s.clock.offsetNs)) / 1e9);
    for (const state of clockStates)
      this.#clockState.set({ state, source: s.clock.source }, state === s.clock.state ? 1 : 0);
    this.#deidFps.set(s.deid.fps);
    this.#deidFailed.reset();
    this.#deidFailed.inc(s.deid.failed);
    this.#deidDegraded.set(s.deid.degraded ? 1 : 0);
    const h = s.deid.holding;
    this.#deidHeldFrames.set(h?.heldFrames ?? 0);
    this.#deidHeldBytes.set(h?.heldBytes ?? 0);
    this.#deidHoldingBudget.set(h?.budgetBytes ?? 0);
    this.#deidBlurredLate.reset();
    this.#deidBlurredLate.inc(h?.blurredLate ?? 0);
    this.#deidMaxDelay.set(Number(BigInt(h?.maxDelayNs ?? '0')) / 1e9);
    this.#deidHeldLost.reset();
    for (const [cause, count] of Object.entries(h?.lost ?? {})) this.#deidHeldLost.inc({ cause }, count);
    this.#syncBacklogBytes.set(s.sync.backlogBytes);
    this.#syncBacklogChunks.set(s.sync.backlogChunks);
    this.#syncGoodput.set(s.sync.goodputBytesPerSec);
    this.#syncEta.set(s.sync.etaSeconds ?? Number.NaN);
    const blocked = s.sync.blocked ?? null;
    if (blocked !== null) this.#syncBlocked.set({ code: blocked.code, region: blocked.storeRegion }, 1);
    const ageMs =
      s.sync.lastReceiptAt === null ? Number.NaN : this.#nowMs() - Date.parse(s.sync.lastReceiptAt);
    this.#syncReceiptAge.set(Number.isFinite(ageMs) ? Math.max(0, ageMs / 1000) : Number.NaN);
    this.#diskFree.set(s.disk.freeBytes);
    this.#diskUsed.set(s.disk.usedBytes);
    this.#diskBudget.set(s.disk.budgetBytes);
    for (const state of diskStates) this.#diskState.set({ state }, state === s.disk.state ? 1 : 0);
    this.#sessionChunks.set(s.session.chunks);
    for (const err of s.recentErrors) this.#errors.inc({ code: err.code });
    this.#uptime.set(s.uptimeSec);
    this.#buildInfo.set({ version: s.version }, 1);
  }

  #gauge<L extends string>(name: string, help: string, labelNames: readonly L[]): Gauge<L> {
    return new Gauge({ name, help, labelNames, registers: [this.registry] });
  }

  #counter<L extends string>(name: string, help: string, labelNames: readonly L[]): Counter<L> {
    return new Counter({ name, help, labelNames, registers: [this.registry] });
  }
}
