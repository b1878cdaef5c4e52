// Per-stream counters for a driver whose streams grow at run time (discovered topics): received
// samples, bytes and drops by cause, with drop listeners seeing exactly what is counted.

import type { DriverDrop, DriverStats, DriverStreamStats, DropCause } from '../types.ts';

/** Counts received samples and drops per stream; streams may be added after construction. */
export class StreamCounters {
  readonly #streams = new Map<string, DriverStreamStats>();
  readonly #unattributed: Partial<Record<DropCause, number>> = {};
  readonly #listeners: Array<(drop: DriverDrop) => void> = [];

  /** Starts counting a stream (no-op if it is counted already). */
  addStream(name: string): void {
    if (!this.#streams.has(name)) this.#streams.set(name, { received: 0, bytes: 0, drops: {} });
  }

  /** Adds a drop listener (Driver.onDrop). */
  addListener(listener: (drop: DriverDrop) => void): void {
    this.#listeners.push(listener);
  }

  /** Counts one sample handed over. */
  received(stream: string, bytes: number): void {
    const stats = this.#streams.get(stream);
    if (stats === undefined) return;
    stats.received += 1;
    stats.bytes += bytes;
  }

  /** Counts `count` drops for `stream` ('' = no stream) and tells the listeners. */
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
    for (const [name, s] of this.#streams)
      streams[name] = { received: s.received, bytes: s.bytes, drops: { ...s.drops } };
    return { streams, unattributed: { ...this.#unattributed } };
  }
}
