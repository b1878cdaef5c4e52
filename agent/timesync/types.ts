// Shapes shared by the time-sync parsers, probes and tracker. Times are bigint nanoseconds; the
// summary that leaves the agent (records, MCAP metadata) carries them as decimal strings.

/** How far the capture clock can be trusted at one instant. */
export type ClockState = 'locked' | 'holdover' | 'unsynced';

/** Which time service a reading came from; `none` when no service answered. */
export type ClockSource = 'chrony' | 'ptp' | 'none';

/** One line of `chronyc -c tracking`, fields in chronyc's CSV order. */
export interface ChronyTracking {
  /** Reference ID as 8 hex digits (`7F7F0101` is chrony's own `local` reference). */
  refId: string;
  /** IP address or name of the reference; empty for a local or refclock reference. */
  refName: string;
  stratum: number;
  /** Wall time of the last clock update (0 when never synchronised). */
  refTimeNs: bigint;
  /** Local clock minus true time now (positive = local clock fast); chronyc prints the correction. */
  systemOffsetNs: bigint;
  /** Offset measured at the last update (positive = local clock was ahead). */
  lastOffsetNs: bigint;
  rmsOffsetNs: bigint;
  frequencyPpm: number;
  residualFrequencyPpm: number;
  skewPpm: number;
  rootDelayNs: bigint;
  rootDispersionNs: bigint;
  /** Interval between the last two clock updates. */
  updateIntervalNs: bigint;
  /** `Normal`, `Insert second`, `Delete second` or `Not synchronised`. */
  leapStatus: string;
}

/** Source mode column of `chronyc -c sources`. */
export type ChronySourceMode = 'server' | 'peer' | 'refclock';

/** Selection state column of `chronyc -c sources`. */
export type ChronySourceState =
  'selected' | 'combined' | 'not-combined' | 'unreachable' | 'falseticker' | 'too-variable';

/** One line of `chronyc -c sources`. */
export interface ChronySource {
  mode: ChronySourceMode;
  state: ChronySourceState;
  name: string;
  stratum: number;
  /** log2 of the polling interval in seconds. */
  pollLog2: number;
  /** 8-bit reachability register (chronyc prints it in octal). */
  reach: number;
  /** Seconds since the last sample; null when none was ever received. */
  lastRxS: number | null;
  adjustedOffsetNs: bigint;
  measuredOffsetNs: bigint;
  errorNs: bigint;
}

/** The TIME_STATUS_NP management response of linuxptp. */
export interface PtpTimeStatus {
  /** Offset of the local clock from the master's (ns, positive = local ahead). */
  masterOffsetNs: bigint;
  ingressTimeNs: bigint;
  gmPresent: boolean;
  gmIdentity: string;
}

/** The PORT_DATA_SET management response of linuxptp (the fields the classifier uses). */
export interface PtpPortDataSet {
  portIdentity: string;
  /** `SLAVE`, `MASTER`, `LISTENING`, `UNCALIBRATED`, `PASSIVE`, `FAULTY`, … */
  portState: string;
  peerMeanPathDelayNs: bigint;
  logSyncInterval: number;
  delayMechanism: number;
}

/** What one probe read from its time service. */
export type ClockReading =
  | { source: 'chrony'; tracking: ChronyTracking }
  | { source: 'ptp'; timeStatus: PtpTimeStatus; port: PtpPortDataSet };

/** A reading classified at the instant it was taken. */
export interface ClockSample {
  source: ClockSource;
  state: ClockState;
  /** Wall clock (CLOCK_REALTIME) when the sample was taken. */
  wallNs: bigint;
  /** Monotonic clock when the sample was taken; wall − mono deltas reveal steps. */
  monoNs: bigint;
  offsetNs: bigint | null;
  dispersionNs: bigint | null;
  /** Why the state is what it is (logged, shown by `rigcap status`). */
  reason: string;
}

export interface ClockStep {
  /** Wall time of the sample that saw the step. */
  atNs: string;
  /** Signed size: how far the wall clock moved beyond the monotonic clock. */
  stepNs: string;
}

// The time-sync section of a capture-chunk record is a record format: its types live with the
// predicate schemas (agent/records/predicates.ts), written once.
export type { ClockInterval, NsStatistics, TimesyncSummary } from '../records/predicates.ts';
