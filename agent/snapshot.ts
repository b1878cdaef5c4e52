// Builds the AgentSnapshot (agent/ops/snapshot.ts) from a running Agent: the one picture that
// `rigcap status`, /status.json, the status page and /metrics read.
import type { Agent } from './agent.ts';
import type { DeidHoldingStatus } from './deid/stage.ts';
import type { AgentSnapshot, ClockState, DeidHoldingSnapshot, DiskState } from './ops/snapshot.ts';
import { RateMeter } from './pipeline/ledger.ts';
import { rigcapVersion } from './version.ts';

/** What the sync engine reports, when sync runs. */
export interface SyncView {
  backlogChunks: number;
  backlogBytes: number;
  etaSeconds: number | null;
  lastReceiptAt: string | null;
  goodputBytesPerSec: number;
}

/** Disk budget as the capture sees it: `low` while low-priority streams are shed, `full` while paused. */
export function diskView(agent: Agent): AgentSnapshot['disk'] {
  const snap = agent.diskBudget?.snapshot();
  if (snap === undefined)
    return { budgetBytes: agent.config.spool.budgetBytes, usedBytes: 0, freeBytes: 0, state: 'ok' };
  const state: DiskState = snap.pressure === 'paused' ? 'full' : snap.pressure === 'shed' ? 'low' : 'ok';
  return { budgetBytes: snap.budgetBytes, usedBytes: snap.usedBytes, freeBytes: snap.freeBytes, state };
}

const deidFps = new RateMeter();

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
  const perStream = Object.values(deidStatus?.streams ?? {});
  const redacted = perStream.reduce((n, s) => n + s.redacted, 0);
  const failed = perStream.reduce((n, s) => n + s.failed, 0);
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
    deid: {
      fps: Math.round(deidFps.rate(redacted, nowMs) * 10) / 10,
      failed,
      degraded: deidStatus?.state === 'failed' || degradedStreams.size > 0,
      ...(deidStatus === undefined ? {} : { holding: holdingView(deidStatus.holding) }),
    },
    session: { id: agent.sessionId ?? null, chunks: agent.sessionChunks },
    recentErrors: agent.recentErrors.slice(-20),
    uptimeSec: Math.round((nowMs - agent.startedAtMs) / 1000),
    version: rigcapVersion,
  };
}
