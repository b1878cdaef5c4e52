// Samples the configured time services in the background and answers, per capture chunk, how the
// clock stood over that chunk's window: state intervals, offset statistics and wall-clock steps.
import type { Logger } from '../log.ts';
import { classifyChrony, classifyPtp, type ClockClassification } from './clock-classifier.ts';
import type { ClockStateProbe } from './probes.ts';
import { summariseWindow } from './timesync-summary.ts';
import type { ClockReading, ClockSample, ClockState, TimesyncSummary } from './types.ts';

/** The two clocks a sample is stamped with; tests pass fakes to simulate steps. */
export interface SampleClocks {
  wallNs(): bigint;
  monoNs(): bigint;
}

/** Node's wall clock (ms resolution, hence the step threshold default) and hrtime. */
export const systemClocks: SampleClocks = {
  wallNs: () => BigInt(Date.now()) * 1_000_000n,
  monoNs: () => process.hrtime.bigint(),
};

export interface ClockStateTrackerOptions {
  logger: Logger;
  /** In order of preference; each tick reads all and keeps the best state (ties: earlier probe). */
  probes: readonly ClockStateProbe[];
  sampleIntervalMs: number;
  lockedMaxOffsetNs: bigint;
  clocks?: SampleClocks;
  /** Wall-vs-monotonic disagreement between two samples that counts as a step (default 10 ms). */
  stepThresholdNs?: bigint;
  /** chrony: the last update is stale after this many update intervals (default 8)… */
  staleUpdateFactor?: number;
  /** …and never sooner than this (default 10 s). */
  minStaleNs?: bigint;
  /** PTP: how long after losing lock the clock still counts as holdover (default 300 s). */
  holdoverMaxNs?: bigint;
  /** Samples kept at most, so a tracker nobody takes windows from stays bounded (default 10000). */
  maxSamples?: number;
}

const stateRank: Record<ClockState, number> = { locked: 2, holdover: 1, unsynced: 0 };

/** Background sampler of clock state with per-window summaries for chunk records. */
export class ClockStateTracker {
  readonly #log: Logger;
  readonly #probes: readonly ClockStateProbe[];
  readonly #clocks: SampleClocks;
  readonly #intervalMs: number;
  readonly #lockedMaxOffsetNs: bigint;
  readonly #stepThresholdNs: bigint;
  readonly #staleUpdateFactor: number;
  readonly #minStaleNs: bigint;
  readonly #holdoverMaxNs: bigint;
  readonly #maxSamples: number;
  #samples: ClockSample[] = [];
  #steps: Array<{ atNs: bigint; stepNs: bigint }> = [];
  #lastPtpLockWallNs: bigint | undefined;
  #timer: NodeJS.Timeout | undefined;
  #inFlight: Promise<ClockSample> | undefined;
  #closed = false;
  readonly #abort = new AbortController();
  readonly #failingProbes = new Set<string>();

  constructor(options: ClockStateTrackerOptions) {
    this.#log = options.logger;
    this.#probes = options.probes;
    this.#clocks = options.clocks ?? systemClocks;
    this.#intervalMs = options.sampleIntervalMs;
    this.#lockedMaxOffsetNs = options.lockedMaxOffsetNs;
    this.#stepThresholdNs = options.stepThresholdNs ?? 10_000_000n;
    this.#staleUpdateFactor = options.staleUpdateFactor ?? 8;
    this.#minStaleNs = options.minStaleNs ?? 10_000_000_000n;
    this.#holdoverMaxNs = options.holdoverMaxNs ?? 300_000_000_000n;
    this.#maxSamples = options.maxSamples ?? 10_000;
  }

  /** Starts sampling every sampleIntervalMs (the next tick is scheduled after the previous ends). */
  start(): void {
    if (this.#closed || this.#timer !== undefined) return;
    const tick = (): void => {
      this.sampleOnce()
        .catch((err: unknown) => this.#log.error({ err }, 'clock sample failed'))
        .finally(() => {
          if (!this.#closed) this.#timer = setTimeout(tick, this.#intervalMs);
        });
    };
    this.#timer = setTimeout(tick, 0);
  }

  /** Takes one sample now (the composition root awaits one before the first chunk opens). */
  sampleOnce(): Promise<ClockSample> {
    // Overlapping reads would double the child processes on a small CPU; share the running one.
    this.#inFlight ??= this.#sample().finally(() => {
      this.#inFlight = undefined;
    });
    return this.#inFlight;
  }

  /** The newest sample, for `rigcap status`. */
  latest(): ClockSample | undefined {
    return this.#samples.at(-1);
  }

  /** Summary of [startNs, endNs] (wall ns) for a chunk record; drops samples no later window needs. */
  takeWindow(startNs: bigint, endNs: bigint): TimesyncSummary {
    const summary = summariseWindow({ startNs, endNs, samples: this.#samples, steps: this.#steps });
    // Keep the last sample before endNs: it is the state at the start of the next window.
    const lastBeforeEnd = this.#samples.findLastIndex((s) => s.wallNs < endNs);
    if (lastBeforeEnd > 0)
      this.#samples = this.#samples.filter((s, i) => i >= lastBeforeEnd || s.wallNs >= endNs);
    this.#steps = this.#steps.filter((s) => s.atNs > endNs);
    return summary;
  }

  /** Stops sampling and waits for an in-flight read; idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#inFlight?.catch(() => undefined);
  }

  /** Stops sampling and abandons in-flight reads (kills their commands); idempotent. */
  destroy(): void {
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#abort.abort();
  }

  async #sample(): Promise<ClockSample> {
    const wallNs = this.#clocks.wallNs();
    const monoNs = this.#clocks.monoNs();
    this.#detectStep(wallNs, monoNs);
    const results = await Promise.allSettled(this.#probes.map((p) => p.read({ signal: this.#abort.signal })));
    let best: { source: 'chrony' | 'ptp'; classification: ClockClassification } | undefined;
    const failures: string[] = [];
    results.forEach((result, i) => {
      const probe = this.#probes[i];
      if (probe === undefined) return;
      if (result.status === 'rejected') {
        const message = result.reason instanceof Error ? result.reason.message : String(result.reason);
        failures.push(message);
        if (!this.#failingProbes.has(probe.source))
          this.#log.warn({ source: probe.source, reason: message }, 'time service unreadable');
        this.#failingProbes.add(probe.source);
        return;
      }
      if (this.#failingProbes.delete(probe.source))
        this.#log.info({ source: probe.source }, 'time service readable again');
      const classification = this.#classify(result.value, wallNs);
      if (best === undefined || stateRank[classification.state] > stateRank[best.classification.state]) {
        best = { source: probe.source, classification };
      }
    });
    const sample: ClockSample =
      best === undefined
        ? {
            source: 'none',
            state: 'unsynced',
            wallNs,
            monoNs,
            offsetNs: null,
            dispersionNs: null,
            reason: failures.join('; ') || 'no time service configured',
          }
        : { source: best.source, wallNs, monoNs, ...best.classification };
    const previous = this.#samples.at(-1);
    if (previous === undefined || previous.state !== sample.state || previous.source !== sample.source) {
      this.#log.info({ source: sample.source, state: sample.state, reason: sample.reason }, 'clock state');
    }
    this.#samples.push(sample);
    if (this.#samples.length > this.#maxSamples)
      this.#samples.splice(0, this.#samples.length - this.#maxSamples);
    return sample;
  }

  #classify(reading: ClockReading, wallNs: bigint): ClockClassification {
    if (reading.source === 'chrony') {
      return classifyChrony(reading.tracking, {
        wallNs,
        lockedMaxOffsetNs: this.#lockedMaxOffsetNs,
        staleUpdateFactor: this.#staleUpdateFactor,
        minStaleNs: this.#minStaleNs,
      });
    }
    const classification = classifyPtp(reading.timeStatus, reading.port, {
      wallNs,
      lockedMaxOffsetNs: this.#lockedMaxOffsetNs,
      lastLockedWallNs: this.#lastPtpLockWallNs,
      holdoverMaxNs: this.#holdoverMaxNs,
    });
    if (classification.state === 'locked') this.#lastPtpLockWallNs = wallNs;
    return classification;
  }

  #lastClockPair: { wallNs: bigint; monoNs: bigint } | undefined;

  #detectStep(wallNs: bigint, monoNs: bigint): void {
    const prev = this.#lastClockPair;
    this.#lastClockPair = { wallNs, monoNs };
    if (prev === undefined) return;
    const stepNs = wallNs - prev.wallNs - (monoNs - prev.monoNs);
    const size = stepNs < 0n ? -stepNs : stepNs;
    if (size > this.#stepThresholdNs) {
      this.#steps.push({ atNs: wallNs, stepNs });
      this.#log.warn({ stepNs: String(stepNs), atNs: String(wallNs) }, 'wall clock stepped');
    }
  }
}
