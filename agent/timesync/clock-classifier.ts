// Pure rules that turn one time-service reading into locked / holdover / unsynced. Kept apart from
// the probes so every rule is tested on captured outputs without running a daemon.
import type { ChronyTracking, ClockState, PtpPortDataSet, PtpTimeStatus } from './types.ts';

/** chrony's reference ID for its own `local` reference: served time, not tracked time. */
export const chronyLocalRefId = '7F7F0101';

export interface ClockClassification {
  state: ClockState;
  offsetNs: bigint | null;
  dispersionNs: bigint | null;
  reason: string;
}

export interface ChronyClassifyOptions {
  /** Wall clock now, to age the last clock update. */
  wallNs: bigint;
  lockedMaxOffsetNs: bigint;
  /** The last update is stale after this many update intervals… */
  staleUpdateFactor: number;
  /** …but never sooner than this (a fresh source updates with a near-zero interval). */
  minStaleNs: bigint;
}

const abs = (v: bigint): bigint => (v < 0n ? -v : v);

/** Classifies one `chronyc -c tracking` reading. */
export function classifyChrony(
  tracking: ChronyTracking,
  options: ChronyClassifyOptions,
): ClockClassification {
  const base = { offsetNs: tracking.systemOffsetNs, dispersionNs: tracking.rootDispersionNs };
  if (tracking.leapStatus === 'Not synchronised') {
    return { state: 'unsynced', offsetNs: null, dispersionNs: null, reason: 'chrony: not synchronised' };
  }
  if (tracking.refId.toUpperCase() === chronyLocalRefId) {
    return { state: 'holdover', ...base, reason: 'chrony: serving its local reference (free-running clock)' };
  }
  const scaledNs = (tracking.updateIntervalNs * BigInt(Math.round(options.staleUpdateFactor * 1000))) / 1000n;
  const staleAfterNs = scaledNs > options.minStaleNs ? scaledNs : options.minStaleNs;
  const ageNs = options.wallNs - tracking.refTimeNs;
  if (ageNs > staleAfterNs) {
    return { state: 'holdover', ...base, reason: `chrony: last clock update ${ageNs / 1_000_000n} ms ago` };
  }
  if (abs(tracking.systemOffsetNs) > options.lockedMaxOffsetNs) {
    return {
      state: 'holdover',
      ...base,
      reason: `chrony: offset ${tracking.systemOffsetNs} ns above the locked limit`,
    };
  }
  return {
    state: 'locked',
    ...base,
    reason: `chrony: tracking ${tracking.refName || tracking.refId} at stratum ${tracking.stratum}`,
  };
}

export interface PtpClassifyOptions {
  wallNs: bigint;
  lockedMaxOffsetNs: bigint;
  /** Wall time of the last locked PTP sample, if any: losing lock after it is holdover, not unsynced. */
  lastLockedWallNs: bigint | undefined;
  /** How long after the last lock a free-running clock still counts as holdover. */
  holdoverMaxNs: bigint;
}

/** Classifies one linuxptp reading (TIME_STATUS_NP plus the disciplining port). */
export function classifyPtp(
  timeStatus: PtpTimeStatus,
  port: PtpPortDataSet,
  options: PtpClassifyOptions,
): ClockClassification {
  const tracking = timeStatus.gmPresent && (port.portState === 'SLAVE' || port.portState === 'UNCALIBRATED');
  const offsetNs = tracking ? timeStatus.masterOffsetNs : null;
  if (tracking && port.portState === 'SLAVE') {
    if (abs(timeStatus.masterOffsetNs) <= options.lockedMaxOffsetNs) {
      return {
        state: 'locked',
        offsetNs,
        dispersionNs: null,
        reason: `ptp: SLAVE of ${timeStatus.gmIdentity}`,
      };
    }
    return {
      state: 'holdover',
      offsetNs,
      dispersionNs: null,
      reason: `ptp: offset ${timeStatus.masterOffsetNs} ns above the locked limit`,
    };
  }
  const why = timeStatus.gmPresent ? `port ${port.portState}` : `no grandmaster (port ${port.portState})`;
  const sinceLockNs =
    options.lastLockedWallNs === undefined ? undefined : options.wallNs - options.lastLockedWallNs;
  if (sinceLockNs !== undefined && sinceLockNs <= options.holdoverMaxNs) {
    return {
      state: 'holdover',
      offsetNs,
      dispersionNs: null,
      reason: `ptp: ${why}, ${sinceLockNs / 1_000_000n} ms since lock`,
    };
  }
  return { state: 'unsynced', offsetNs, dispersionNs: null, reason: `ptp: ${why}` };
}
