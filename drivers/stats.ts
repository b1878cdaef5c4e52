// Per-stream counters and drop listeners, shared by the drivers so every drop is counted the same
// way: the counter and the listeners see exactly the same events.
import type { DriverDrop, DriverStats, DriverStreamStats, DropCause } from './types.ts';

/** Counts received samples and drops per stream and tells drop listeners. */
export class DriverStatsCounter {
  readonly #streams = new Map<string, DriverStreamStats>();
  readonly #unattributed: Partial<Record<DropCause, number>> = {};
  readonly #listeners: Array<(drop: DriverDrop) => void> = [];

  constructor(streamNames: readonly string[] = []) {
    for (const name of streamNames) this.addStream(name);
  }

  /** Starts counting a stream found at run time (no-op if it is counted already). */
  addStream(name: string): void {
    if (!this.#streams.has(name)) this.#streams.set(name, { received: 0, bytes: 0, drops: {} });
  }

  /** Adds a drop listener (Driver.onDrop). */
  addListener(listener: (drop: DriverDrop) => void): void {
    this.#listeners.push(listener);
  }

  /** Counts one sample handed to the agent. */
  received(stream: string, bytes: number): void {
    const stats = this.#streams.get(stream);
    if (stats === undefined) return;
    stats.received += 1;
    stats.bytes += bytes;
  }

  /** Counts `count` drops for `stream` ('' = no configured stream) and notifies listeners. */
  drop(stream: string, cause: DropCause, count: number, detail?: string): void {
    if (count <= 0) return;
    const drops = this.#streams.get(stream)?.drops ?? this.#unattributed;
    drops[cause] = (drops[cause] ?? 0) + count;
    const event: DriverDrop =
      detail === undefined ? { stream, cause, count } : { stream, cause, count, detail };
    for (const listener of this.#listeners) listener(event);
  }

  /** A deep copy of the counters. */
  snapshot(): DriverStats {
    const streams: Record<string, DriverStreamStats> = {};
    for (const [name, stats] of this.#streams)
      streams[name] = { received: stats.received, bytes: stats.bytes, drops: { ...stats.drops } };
    return { streams, unattributed: { ...this.#unattributed } };
  }
}
