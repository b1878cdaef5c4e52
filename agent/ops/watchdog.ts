// systemd watchdog: ping WATCHDOG=1 at half of WATCHDOG_USEC, but only while the pipeline advances.
// A stuck writer (probe says no progress) or a blocked event loop (timer never runs) stops the pings,
// so systemd kills and restarts the agent instead of leaving a silent zombie.
import type { Logger } from '../log.ts';
import type { SdNotifier } from './sd-notify.ts';

/** Ping interval from WATCHDOG_USEC (half of it), or undefined when systemd's watchdog is off for us. */
export function watchdogIntervalMs(env: NodeJS.ProcessEnv, pid: number = process.pid): number | undefined {
  const usec = Number(env['WATCHDOG_USEC'] ?? '');
  if (!Number.isFinite(usec) || usec <= 0) return undefined;
  const forPid = env['WATCHDOG_PID'];
  if (forPid !== undefined && forPid !== '' && Number(forPid) !== pid) return undefined;
  return Math.max(1, Math.floor(usec / 2000));
}

/** Returns true when the pipeline made progress since the previous call. */
export type ProgressProbe = () => boolean;

/** A probe that reports progress when a monotonically growing counter has moved since the last look. */
export function counterProgress(read: () => number | bigint): ProgressProbe {
  let last = read();
  return () => {
    const now = read();
    const moved = now !== last;
    last = now;
    return moved;
  };
}

export interface WatchdogOptions {
  notifier: Pick<SdNotifier, 'watchdog'>;
  intervalMs: number;
  progress: ProgressProbe;
  log: Logger;
}

/** Pings systemd's watchdog while `progress()` holds. `stop()` is idempotent. */
export class Watchdog {
  readonly intervalMs: number;
  readonly #options: WatchdogOptions;
  #timer: NodeJS.Timeout | undefined;
  #stalledTicks = 0;
  #pings = 0;

  constructor(options: WatchdogOptions) {
    this.#options = options;
    this.intervalMs = options.intervalMs;
  }

  /** Number of WATCHDOG=1 sent so far. */
  get pings(): number {
    return this.#pings;
  }

  /** Starts the timer (unref'd: it never keeps the process alive on its own). */
  start(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setInterval(() => this.tick(), this.intervalMs);
    this.#timer.unref();
  }

  /** One check: ping when the pipeline advanced, otherwise log that the watchdog is being starved. */
  tick(): void {
    if (this.#options.progress()) {
      if (this.#stalledTicks > 0)
        this.#options.log.info({ stalledTicks: this.#stalledTicks }, 'pipeline progressing again');
      this.#stalledTicks = 0;
      this.#pings += 1;
      this.#options.notifier.watchdog();
      return;
    }
    this.#stalledTicks += 1;
    this.#options.log.warn(
      { code: 'RIGCAP_PIPELINE_STALLED', stalledTicks: this.#stalledTicks, intervalMs: this.intervalMs },
      'no pipeline progress: withholding WATCHDOG=1 so systemd restarts the agent',
    );
  }

  /** Stops pinging (before STOPPING=1). */
  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
