// Builds the AgentSnapshot (agent/ops/snapshot.ts) from a running Agent: the one picture that
// `rigcap status`, /status.json, the status page and /metrics read.
import type { Agent } from './agent.ts';
import type { DeidHoldingStatus } from './deid/stage.ts';
import type { DeidStatus } from './deid/stage.ts';
import { RecentWindow } from './ops/recent-window.ts';
import type {
  AgentSnapshot,
  ClockState,
  DeidHoldingSnapshot,
  DeidSnapshot,
  DiskState,
} from './ops/snapshot.ts';
import { isImageStream } from './pipeline/image-streams.ts';
import { rigcapVersion } from './version.ts';

/** What the sync engine reports, when sync runs. */
export interface SyncView {
  backlogChunks: number;
  backlogBytes: number;
  etaSeconds: number | null;
  lastReceiptAt: string | null;
  goodputBytesPerSec: number;
  /** Why sync sends nothing (a store outside `sync.allowedRegions`), or null. */
  blocked?: { code: string; reason: string; storeRegion: string } | null;
}

/** Disk budget as the capture sees it: `low` while low-priority streams are shed, `full` while paused. */
export function diskView(agent: Agent): AgentSnapshot['disk'] {
  const snap = agent.diskBudget?.snapshot();
  if (snap === undefined)
    return { budgetBytes: agent.config.spool.budgetBytes, usedBytes: 0, freeBytes: 0, state: 'ok' };
  const state: DiskState = snap.pressure === 'paused' ? 'full' : snap.pressure === 'shed' ? 'low' : 'ok';
  return { budgetBytes: snap.budgetBytes, usedBytes: snap.usedBytes, freeBytes: snap.freeBytes, state };
}

/** The window over which the de-id tile reports blurred fps and lost frames. */
const deidWindowMs = 10_000;
const deidWindows = new WeakMap<Agent, RecentWindow<'redacted' | 'received' | 'dropped'>>();

/**
 * De-id as it is now: blurred fps and frames lost over the last ~10 s, and a health that turns
 * `warn` when frames of de-identified streams are dropped (any cause) or held, `bad` when de-id
 * failed, a stream is degraded, or most frames are lost.
 */
export function deidView(agent: Agent, status: DeidStatus | undefined, nowMs: number): DeidSnapshot {
  const perStream = Object.entries(status?.streams ?? {});
  const redacted = perStream.reduce((n, [, s]) => n + s.redacted, 0);
  const failed = perStream.reduce((n, [, s]) => n + s.failed, 0);
  const degradedStreams = perStream.filter(([, s]) => s.degraded).map(([name]) => name);
  let received = 0;
  let dropped = 0;
  for (const s of agent.streams) {
    if (!isImageStream(s) || s.deid.exempt) continue;
    const t = agent.ledger.totals().get(s.name);
    received += t?.received ?? 0;
    for (const n of Object.values(t?.drops ?? {})) dropped += n ?? 0;
  }
  let window = deidWindows.get(agent);
  if (window === undefined) {
    window = new RecentWindow({
      windowMs: deidWindowMs,
      origin: { atMs: agent.startedAtMs, values: { redacted: 0, received: 0, dropped: 0 } },
    });
    deidWindows.set(agent, window);
  }
  const { spanMs, delta } = window.look({ redacted, received, dropped }, nowMs);
  const fps = spanMs > 0 ? Math.round((delta.redacted * 10_000) / spanMs) / 10 : 0;
  const held = status?.holding.heldFrames ?? 0;
  const lostShare =
    delta.received > 0 ? Math.min(1, delta.dropped / delta.received) : delta.dropped > 0 ? 1 : 0;
  const problems: string[] = [];
  let health: DeidSnapshot['health'] = 'ok';
  if (status?.state === 'failed') {
    health = 'bad';
    problems.push(`failed${status.lastError === null ? '' : `: ${status.lastError.code}`}`);
  }
  if (degradedStreams.length > 0) {
    health = 'bad';
    problems.push(`degraded: ${degradedStreams.join(', ')}`);
  }
  if (delta.dropped > 0) {
    if (lostShare >= 0.5) health = 'bad';
    else if (health === 'ok') health = 'warn';
    problems.push(`dropping ${Math.round(lostShare * 100)}% of frames`);
  }
  if (held > 0) {
    if (health === 'ok') health = 'warn';
    problems.push(`${held} frames held for late blur`);
  }
  return {
    fps,
    windowSec: Math.round(spanMs / 100) / 10,
    recent: { received: delta.received, dropped: delta.dropped },
    health,
    reason: problems.join('; '),
    failed,
    degraded: status?.state === 'failed' || degradedStreams.length > 0,
    ...(status === undefined ? {} : { holding: holdingView(status.holding) }),
  };
}

function holdingView(h: DeidHoldingStatus): DeidHoldingSnapshot {
  return {
    mode: h.mode,
    heldFrames: h.heldFrames,
    heldBytes: h.heldBytes,
    budgetBytes: h.budgetBytes,
    drop: h.drop,
    oldestHeldNs: h.oldestHeldNs,
    blurredLate: h.blurredLate,
    maxDelayNs: h.maxDelayNs,
    lost: { ...h.lost },
  };
}

/** A fresh snapshot of the agent. */
export function agentSnapshot(agent: Agent, sync: SyncView | undefined): AgentSnapshot {
  const nowMs = Date.now();
  const totals = agent.ledger.totals();
  const deidStatus = agent.deid?.status();
  const degradedStreams = new Set(
    Object.entries(deidStatus?.streams ?? {})
      .filter(([, s]) => (s as { degraded?: boolean }).degraded === true)
      .map(([name]) => name),
  );
  const latest = agent.clock?.latest();
  const calib = agent.calibration?.current();
  return {
    streams: agent.streams.map((s) => {
      const t = totals.get(s.name);
      return {
        name: s.name,
        topic: s.topic,
        ratePerSec: Math.round(agent.ledger.ratePerSec(s.name, nowMs) * 10) / 10,
        bytes: t?.bytesWritten ?? 0,
        received: t?.received ?? 0,
        drops: Object.fromEntries(
          Object.entries(t?.drops ?? {}).filter((e): e is [string, number] => (e[1] ?? 0) > 0),
        ),
        queueDepth: agent.queueDepth(s.name),
        degraded: degradedStreams.has(s.name),
      };
    }),
    unattributedDrops: Object.fromEntries(
      Object.entries(agent.ledger.unattributed).filter((e): e is [string, number] => (e[1] ?? 0) > 0),
    ),
    clock: {
      state: (latest?.state ?? 'unknown') as ClockState,
      offsetNs: latest?.offsetNs === undefined || latest.offsetNs === null ? null : String(latest.offsetNs),
      source: latest?.source ?? 'none',
    },
    calibration: {
      version:
        calib === undefined || calib.sensors.length === 0
          ? null
          : calib.sensors.map((s) => `${s.sensor}@v${s.version}`).join(' '),
      digest: calib === undefined || calib.sensors.length === 0 ? null : calib.rigDigest,
    },
    disk: diskView(agent),
    sync: sync ?? {
      backlogChunks: 0,
      backlogBytes: 0,
      etaSeconds: null,
      lastReceiptAt: null,
      goodputBytesPerSec: 0,
    },
    deid: deidView(agent, deidStatus, nowMs),
    session: { id: agent.sessionId ?? null, chunks: agent.sessionChunks },
    recentErrors: agent.recentErrors.slice(-20),
    uptimeSec: Math.round((nowMs - agent.startedAtMs) / 1000),
    version: rigcapVersion,
  };
}
