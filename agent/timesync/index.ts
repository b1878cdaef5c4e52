// Public surface of agent/timesync for the composition root.
export { parseChronySources, parseChronyTracking, secondsToNs } from './chrony-parse.ts';
export { parsePmcResponses, disciplinePort, type PmcResponses } from './pmc-parse.ts';
export {
  classifyChrony,
  classifyPtp,
  chronyLocalRefId,
  type ClockClassification,
} from './clock-classifier.ts';
export { ExecFileCommandRunner, type CommandRunner, type CommandOutput } from './command-runner.ts';
export { ChronyTrackingProbe, PtpStatusProbe, type ClockStateProbe } from './probes.ts';
export {
  ClockStateTracker,
  systemClocks,
  type ClockStateTrackerOptions,
  type SampleClocks,
} from './clock-state-tracker.ts';
export { createClockStateTracker } from './from-config.ts';
export {
  nsStatistics,
  summariseWindow,
  unknownClockSummary,
  timesyncFromMetadata,
  timesyncMetadata,
  timesyncMetadataName,
} from './timesync-summary.ts';
export type * from './types.ts';
