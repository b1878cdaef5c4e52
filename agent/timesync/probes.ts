// Probes read one time service each by running its CLI through a CommandRunner. Command arguments
// are configurable so a probe can talk to a private daemon (`chronyc -h /run/x.sock`, `pmc -s …`).
import { RigcapError } from '../errors.ts';
import { parseChronySources, parseChronyTracking } from './chrony-parse.ts';
import type { CommandRunner } from './command-runner.ts';
import { disciplinePort, parsePmcResponses } from './pmc-parse.ts';
import type { ChronySource, ClockReading } from './types.ts';

/** One time service the tracker can sample. */
export interface ClockStateProbe {
  readonly source: 'chrony' | 'ptp';
  /** Reads the service once; rejects with RIGCAP_TIMESYNC_* when it is missing, down or unreadable. */
  read(options: { signal?: AbortSignal }): Promise<ClockReading>;
}

export interface ChronyProbeOptions {
  runner: CommandRunner;
  chronycPath: string;
  /** Arguments before `-c tracking`, e.g. `['-h', '/run/chrony/chronyd.sock']`. */
  chronycArgs: readonly string[];
  timeoutMs: number;
}

/** Reads `chronyc -c tracking` (and `-c sources` for status pages). */
export class ChronyTrackingProbe implements ClockStateProbe {
  readonly source = 'chrony' as const;
  readonly #options: ChronyProbeOptions;

  constructor(options: ChronyProbeOptions) {
    this.#options = options;
  }

  /** Runs `chronyc … -c tracking` and parses it. */
  async read(options: { signal?: AbortSignal } = {}): Promise<ClockReading> {
    const out = await this.#run(['-c', 'tracking'], options.signal);
    return { source: 'chrony', tracking: parseChronyTracking(out) };
  }

  /** Runs `chronyc … -c sources` and parses it. */
  async readSources(options: { signal?: AbortSignal } = {}): Promise<ChronySource[]> {
    return parseChronySources(await this.#run(['-c', 'sources'], options.signal));
  }

  async #run(tail: readonly string[], signal: AbortSignal | undefined): Promise<string> {
    const { runner, chronycPath, chronycArgs, timeoutMs } = this.#options;
    const out = await runner.run(chronycPath, [...chronycArgs, ...tail], {
      timeoutMs,
      ...(signal ? { signal } : {}),
    });
    return out.stdout;
  }
}

export interface PtpProbeOptions {
  runner: CommandRunner;
  pmcPath: string;
  /** Arguments before the GET requests; default `['-u', '-b', '0']`, add `-s <uds>` for a private ptp4l. */
  pmcArgs: readonly string[];
  timeoutMs: number;
}

/** Reads TIME_STATUS_NP and PORT_DATA_SET from ptp4l through `pmc`. */
export class PtpStatusProbe implements ClockStateProbe {
  readonly source = 'ptp' as const;
  readonly #options: PtpProbeOptions;

  constructor(options: PtpProbeOptions) {
    this.#options = options;
  }

  /** Runs `pmc … 'GET TIME_STATUS_NP' 'GET PORT_DATA_SET'` and parses both answers. */
  async read(options: { signal?: AbortSignal } = {}): Promise<ClockReading> {
    const { runner, pmcPath, pmcArgs, timeoutMs } = this.#options;
    const args = [...pmcArgs, 'GET TIME_STATUS_NP', 'GET PORT_DATA_SET'];
    const out = await runner.run(pmcPath, args, {
      timeoutMs,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    const { timeStatus, ports } = parsePmcResponses(out.stdout);
    const port = disciplinePort(ports);
    // pmc exits 0 even when nothing answered; no responses means ptp4l is not running there.
    if (timeStatus === undefined || port === undefined) {
      throw new RigcapError(
        'RIGCAP_TIMESYNC_UNAVAILABLE',
        `${pmcPath} ${pmcArgs.join(' ')}: ptp4l did not answer`,
      );
    }
    return { source: 'ptp', timeStatus, port };
  }
}
