// The one picture of the running agent that `rigcap status`, the status page and /metrics all read.
// The agent builds it on demand; plain JSON values only (bigint nanoseconds as decimal strings) so
// it serialises unchanged into /status.json.

export type ClockState = 'locked' | 'holdover' | 'unsynced' | 'unknown';
export type DiskState = 'ok' | 'low' | 'full';

export interface StreamSnapshot {
  name: string;
  topic: string;
  /** Messages per second over the last measuring window. */
  ratePerSec: number;
  /** Bytes written for this stream since start. */
  bytes: number;
  /** Messages received from the driver since start. */
  received: number;
  /** Dropped messages since start, by cause (`queue_full`, `oversize`, `deid_backpressure`, …). */
  drops: Record<string, number>;
  queueDepth: number;
  degraded: boolean;
}

export interface AgentSnapshot {
  streams: StreamSnapshot[];
  /** Drops that belong to no configured stream (unknown topic, a frame too broken to name its topic), by cause. */
  unattributedDrops: Record<string, number>;
  clock: {
    state: ClockState;
    /** Offset to the reference clock in ns, decimal string; null when unknown. */
    offsetNs: string | null;
    /** `chrony`, `ptp`, or `none`. */
    source: string;
  };
  calibration: { version: string | null; digest: string | null };
  disk: { budgetBytes: number; usedBytes: number; freeBytes: number; state: DiskState };
  sync: {
    backlogChunks: number;
    backlogBytes: number;
    /** Seconds until the backlog drains at the current goodput; null when unknown or stalled. */
    etaSeconds: number | null;
    /** ISO 8601 time of the last custody receipt; null before the first. */
    lastReceiptAt: string | null;
    goodputBytesPerSec: number;
    /** Why sync sends nothing (a store outside `sync.allowedRegions`); absent or null when it may. */
    blocked?: { code: string; reason: string; storeRegion: string } | null;
  };
  deid: DeidSnapshot;
  session: { id: string | null; chunks: number };
  recentErrors: Array<{ at: string; code: string; message: string }>;
  uptimeSec: number;
  version: string;
}

/** De-identification as the operator needs to judge it: what it blurs now and what it loses. */
export interface DeidSnapshot {
  /** Frames blurred per second over the last `windowSec` (0 when nothing was blurred). */
  fps: number;
  /** Seconds the recent figures (fps, recent) cover; 0 before a second look. */
  windowSec?: number;
  /** Frames of de-identified streams over the same window: received, and dropped for any cause. */
  recent?: { received: number; dropped: number };
  /**
   * `ok`: every frame is blurred in time; `warn`: frames are being dropped or held (backlog);
   * `bad`: de-id failed or a stream is degraded, or most frames are being lost.
   */
  health?: 'ok' | 'warn' | 'bad';
  /** Why health is not ok, in a few words; '' when ok. */
  reason?: string;
  failed: number;
  degraded: boolean;
  holding?: DeidHoldingSnapshot;
}

/** The de-id holding area (spill mode): frames sealed until blurred, and what was lost from it. */
export interface DeidHoldingSnapshot {
  mode: 'inline' | 'spill';
  heldFrames: number;
  heldBytes: number;
  budgetBytes: number;
  /** Which frame goes when the holding area is full. */
  drop: 'oldest' | 'newest';
  /** Capture time of the oldest held frame (decimal ns), null when none is held. */
  oldestHeldNs: string | null;
  /** Held frames blurred and written so far. */
  blurredLate: number;
  /** Longest hold before a late frame was written (decimal ns). */
  maxDelayNs: string;
  /** Held frames lost, by cause (`deid_holding_full`, `deid_held_lost`). */
  lost: Record<string, number>;
}

/** Supplies a fresh snapshot; called per request, so it should be cheap. */
export type SnapshotSource = () => AgentSnapshot;
