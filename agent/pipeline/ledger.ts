// Per-stream accounting: every sample a driver hands over is either written or dropped under a
// named cause, and upstream losses (publisher sequence gaps) are counted beside them. Totals feed
// status and metrics; per-chunk deltas feed each capture-chunk record.
import type { DropCause } from '../../drivers/types.ts';
import { DropWindows } from '../records/gaps.ts';

/** Counters of one stream. */
export interface StreamCounts {
  /** Samples handed over by the driver. */
  received: number;
  /** Samples written into a chunk. */
  written: number;
  bytesWritten: number;
  /** Drops by cause; `upstream_loss` counts messages the publisher sent that never arrived. */
  drops: Partial<Record<DropCause, number>>;
}

function emptyCounts(): StreamCounts {
  return { received: 0, written: 0, bytesWritten: 0, drops: {} };
}

/** Rate of a growing counter, measured between looks at least `minIntervalMs` apart. */
export class RateMeter {
  #at: number | undefined;
  #value = 0;
  #rate = 0;

  /** Starts measuring from `value` at `nowMs`; without it the first `rate` call only sets this baseline and says 0. */
  prime(value: number, nowMs: number): void {
    if (this.#at !== undefined) return;
    this.#at = nowMs;
    this.#value = value;
  }

  /** Per-second rate of `value` as of `nowMs`. */
  rate(value: number, nowMs: number, minIntervalMs = 1000): number {
    if (this.#at === undefined) {
      this.#at = nowMs;
      this.#value = value;
      return 0;
    }
    if (nowMs - this.#at >= minIntervalMs) {
      this.#rate = ((value - this.#value) * 1000) / (nowMs - this.#at);
      this.#at = nowMs;
      this.#value = value;
    }
    return this.#rate;
  }
}

/** Counts of every stream, in total and since the last chunk was sealed. */
export class StreamLedger {
  readonly #total = new Map<string, StreamCounts>();
  #window = new Map<string, StreamCounts>();
  /** Drops that belong to no configured stream (unknown topic, unparseable frame). */
  readonly unattributed: Partial<Record<DropCause, number>> = {};
  readonly #rates = new Map<string, RateMeter>();
  readonly #nowMs: () => number;
  /** When drops happened, per stream (the session close record's loss windows). */
  readonly dropWindows = new DropWindows();

  constructor(options: { nowMs?: () => number } = {}) {
    this.#nowMs = options.nowMs ?? Date.now;
  }

  #both(stream: string): [StreamCounts, StreamCounts] {
    let t = this.#total.get(stream);
    if (t === undefined) {
      this.#total.set(stream, (t = emptyCounts()));
      // Rates count from a stream's first sample, not from the first look: the daemon's first
      // STATUS= line (10 s in, with nothing else asking) would otherwise report 0 msg/s.
      this.#meter(stream).prime(0, this.#nowMs());
    }
    let w = this.#window.get(stream);
    if (w === undefined) this.#window.set(stream, (w = emptyCounts()));
    return [t, w];
  }

  /** A sample arrived from the driver. */
  received(stream: string): void {
    for (const c of this.#both(stream)) c.received += 1;
  }

  /** `count` samples (one by default) of `bytes` in all reached a chunk. */
  written(stream: string, bytes: number, count = 1): void {
    for (const c of this.#both(stream)) {
      c.written += count;
      c.bytesWritten += bytes;
    }
  }

  /** `count` samples of `stream` were dropped (or lost upstream) for `cause`. */
  drop(stream: string, cause: DropCause, count = 1): void {
    if (stream === '') {
      this.unattributed[cause] = (this.unattributed[cause] ?? 0) + count;
      return;
    }
    for (const c of this.#both(stream)) c.drops[cause] = (c.drops[cause] ?? 0) + count;
    this.dropWindows.note(stream, cause, count, BigInt(this.#nowMs()) * 1_000_000n);
  }

  /** Totals since start, per stream. */
  totals(): ReadonlyMap<string, Readonly<StreamCounts>> {
    return this.#total;
  }

  /** Counts since the previous call, per stream; starts a new window (one per chunk). */
  takeWindow(): Map<string, StreamCounts> {
    const window = this.#window;
    this.#window = new Map();
    return window;
  }

  /** Messages per second written for `stream`, measured between calls at least 1 s apart. */
  ratePerSec(stream: string, nowMs: number): number {
    return this.#meter(stream).rate(this.#total.get(stream)?.written ?? 0, nowMs);
  }

  #meter(stream: string): RateMeter {
    let meter = this.#rates.get(stream);
    if (meter === undefined) this.#rates.set(stream, (meter = new RateMeter()));
    return meter;
  }
}
