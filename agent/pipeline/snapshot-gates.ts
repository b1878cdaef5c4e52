// Snapshot mode for the streams that ask for it: a bounded ring per stream in front of its queue.
// Samples pass only inside marker windows; everything else leaves the ring counted as
// `snapshot_window`, and each closed window becomes a lineage entry of the next chunk record.
import type { Sample } from '../../drivers/types.ts';
import type { StreamConfig } from '../config/types.ts';
import { SnapshotRing } from '../ops/snapshot-ring.ts';
import type { TransformLineage } from '../records/predicates.ts';
import type { StreamLedger } from './ledger.ts';

interface Gate {
  ring: SnapshotRing<Sample>;
  preMs: number;
  postMs: number;
  reported: number;
  windowsTaken: number;
}

/** The snapshot rings of all streams in snapshot mode. */
export class SnapshotGates {
  readonly #ledger: StreamLedger;
  readonly #gates = new Map<string, Gate>();

  constructor(ledger: StreamLedger) {
    this.#ledger = ledger;
  }

  /** The gate for a stream in snapshot mode (returns the samples to queue now), or undefined. */
  gateFor(stream: StreamConfig): ((sample: Sample) => readonly Sample[]) | undefined {
    if (stream.snapshot === undefined) return undefined;
    const ring = new SnapshotRing<Sample>({
      preNs: BigInt(stream.snapshot.preMs) * 1_000_000n,
      postNs: BigInt(stream.snapshot.postMs) * 1_000_000n,
      maxBytes: stream.snapshot.maxBytes,
      timeOf: (x) => x.monoNs,
      sizeOf: (x) => x.data.byteLength,
    });
    const gate: Gate = {
      ring,
      preMs: stream.snapshot.preMs,
      postMs: stream.snapshot.postMs,
      reported: 0,
      windowsTaken: 0,
    };
    this.#gates.set(stream.name, gate);
    return (sample) => {
      const out = ring.push(sample);
      if (ring.evicted > gate.reported) {
        this.#ledger.drop(stream.name, 'snapshot_window', ring.evicted - gate.reported);
        gate.reported = ring.evicted;
      }
      return out;
    };
  }

  /** A marker at monotonic `atNs`: per stream, the held samples its window releases. */
  mark(markerId: string, atNs: bigint): Array<[string, Sample[]]> {
    return [...this.#gates].map(([stream, gate]) => [stream, gate.ring.mark(markerId, atNs)]);
  }

  /** Windows closed since the previous call, one lineage entry per stream. */
  takeWindows(nowMonoNs: bigint = process.hrtime.bigint()): TransformLineage[] {
    const out: TransformLineage[] = [];
    for (const [stream, gate] of this.#gates) {
      const windows = gate.ring.windows.slice(gate.windowsTaken);
      // The newest window may still be open: it is reported with a later chunk once it closes.
      const closed = windows.filter((w, i) => i < windows.length - 1 || w.toNs < nowMonoNs);
      gate.windowsTaken += closed.length;
      if (closed.length === 0) continue;
      out.push({
        kind: 'snapshot-window',
        stream,
        preMs: gate.preMs,
        postMs: gate.postMs,
        windows: closed.map((w) => ({
          markerIds: w.markerIds,
          fromMonoNs: w.fromNs.toString(),
          toMonoNs: w.toNs.toString(),
          items: w.items,
          bytes: w.bytes,
          preTruncated: w.preTruncated,
        })),
      });
    }
    return out;
  }

  /** At stop: samples still held were never inside a window, so they count as dropped. */
  countHeldAsDropped(): void {
    for (const [stream, gate] of this.#gates) {
      const held = gate.ring.held.items;
      if (held > 0) this.#ledger.drop(stream, 'snapshot_window', held);
    }
  }
}
