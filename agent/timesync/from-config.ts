// Builds the tracker the config asks for: chrony and/or PTP probes in that order of preference.
import type { TimesyncConfig } from '../config/types.ts';
import type { Logger } from '../log.ts';
import { ClockStateTracker } from './clock-state-tracker.ts';
import { ExecFileCommandRunner, type CommandRunner } from './command-runner.ts';
import { ChronyTrackingProbe, PtpStatusProbe, type ClockStateProbe } from './probes.ts';

export interface TimesyncDeps {
  logger: Logger;
  runner?: CommandRunner;
  /** Extra chronyc arguments (`['-h', socket]`) and pmc arguments (`['-u', '-b', '0', '-s', uds]`). */
  chronycArgs?: readonly string[];
  pmcArgs?: readonly string[];
}

/** A ClockStateTracker for `timesync:`; with neither service enabled every chunk says `none`/`unsynced`. */
export function createClockStateTracker(config: TimesyncConfig, deps: TimesyncDeps): ClockStateTracker {
  const runner = deps.runner ?? new ExecFileCommandRunner();
  const timeoutMs = Math.min(config.sampleIntervalMs, 5000);
  const probes: ClockStateProbe[] = [];
  if (config.ptp)
    probes.push(
      new PtpStatusProbe({
        runner,
        pmcPath: config.pmcPath,
        pmcArgs: deps.pmcArgs ?? ['-u', '-b', '0'],
        timeoutMs,
      }),
    );
  if (config.chrony)
    probes.push(
      new ChronyTrackingProbe({
        runner,
        chronycPath: config.chronycPath,
        chronycArgs: deps.chronycArgs ?? [],
        timeoutMs,
      }),
    );
  return new ClockStateTracker({
    logger: deps.logger.child({ component: 'timesync' }),
    probes,
    sampleIntervalMs: config.sampleIntervalMs,
    lockedMaxOffsetNs: BigInt(config.lockedMaxOffsetNs),
  });
}
