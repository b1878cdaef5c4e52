// Pre-trigger capture ("snapshot mode"): keep only the last `preNs` of a stream (and at most
// `maxBytes`) in memory, and let samples through to the writer only around event markers, from
// `preNs` before a mark to `postNs` after it. Overlapping windows merge. Every window is recorded,
// including whether the byte bound cut its pre-trigger part short, so the chunk record can say so.

export interface SnapshotRingOptions<T> {
  /** How far before a mark to keep and release, ns. */
  preNs: bigint;
  /** How long after a mark samples keep flowing, ns. */
  postNs: bigint;
  /** Memory bound for the held samples. */
  maxBytes: number;
  /** The sample's monotonic time, ns (the same clock marks are stamped with). */
  timeOf: (item: T) => bigint;
  sizeOf: (item: T) => number;
}

/** One released capture window. */
export interface CaptureWindow {
  markerIds: string[];
  fromNs: bigint;
  toNs: bigint;
  items: number;
  bytes: number;
  /** True when samples inside the pre-trigger span had already been evicted (byte bound). */
  preTruncated: boolean;
}

/** A bounded ring that releases its samples only around markers. */
export class SnapshotRing<T> {
  readonly #options: SnapshotRingOptions<T>;
  #held: T[] = [];
  #heldBytes = 0;
  #evicted = 0;
  /** Newest time of a sample evicted by the byte bound (not by age). */
  #lastByteEvictedNs: bigint | undefined;
  #open: CaptureWindow | undefined;
  readonly #windows: CaptureWindow[] = [];

  constructor(options: SnapshotRingOptions<T>) {
    if (options.preNs < 0n || options.postNs < 0n || options.maxBytes <= 0) {
      throw new RangeError('SnapshotRing needs preNs, postNs >= 0 and maxBytes > 0');
    }
    this.#options = options;
  }

  /** Samples held now, and their bytes. */
  get held(): { items: number; bytes: number } {
    return { items: this.#held.length, bytes: this.#heldBytes };
  }

  /** Samples discarded unreleased (outside every window): expected in snapshot mode, counted. */
  get evicted(): number {
    return this.#evicted;
  }

  /** Every window so far, oldest first (the last may still be open). */
  get windows(): readonly CaptureWindow[] {
    return this.#windows;
  }

  /** Adds a sample; returns the samples to write now (it, when a window is open; else none). */
  push(item: T): T[] {
    const t = this.#options.timeOf(item);
    const open = this.#open;
    if (open !== undefined && t <= open.toNs) {
      this.#count(open, [item]);
      return [item];
    }
    this.#open = undefined;
    this.#held.push(item);
    this.#heldBytes += this.#options.sizeOf(item);
    this.#evict(t);
    return [];
  }

  /** A marker at `atNs`: opens (or extends) a window and returns the held samples inside it. */
  mark(markerId: string, atNs: bigint): T[] {
    const fromNs = atNs - this.#options.preNs;
    const toNs = atNs + this.#options.postNs;
    const released = this.#take(fromNs, toNs);
    let window = this.#open;
    if (window === undefined) {
      window = { markerIds: [], fromNs, toNs, items: 0, bytes: 0, preTruncated: false };
      this.#windows.push(window);
      this.#open = window;
    }
    window.markerIds.push(markerId);
    if (toNs > window.toNs) window.toNs = toNs;
    if (fromNs < window.fromNs) window.fromNs = fromNs;
    if (this.#lastByteEvictedNs !== undefined && this.#lastByteEvictedNs >= fromNs)
      window.preTruncated = true;
    this.#count(window, released);
    return released;
  }

  /** Held samples within [fromNs, toNs] leave the ring (they are time-ordered, so one slice). */
  #take(fromNs: bigint, toNs: bigint): T[] {
    const timeAt = (i: number): bigint => this.#options.timeOf(this.#held[i] as T);
    let start = this.#held.length;
    while (start > 0 && timeAt(start - 1) >= fromNs) start -= 1;
    let end = start;
    while (end < this.#held.length && timeAt(end) <= toNs) end += 1;
    const taken = this.#held.splice(start, end - start);
    for (const item of taken) this.#heldBytes -= this.#options.sizeOf(item);
    return taken;
  }

  #evict(newestNs: bigint): void {
    const oldestKeptNs = newestNs - this.#options.preNs;
    let drop = 0;
    while (drop < this.#held.length) {
      const item = this.#held[drop] as T;
      const t = this.#options.timeOf(item);
      const overBytes = this.#heldBytes > this.#options.maxBytes;
      if (t >= oldestKeptNs && !overBytes) break;
      if (overBytes && t >= oldestKeptNs) this.#lastByteEvictedNs = t;
      this.#heldBytes -= this.#options.sizeOf(item);
      drop += 1;
    }
    if (drop > 0) {
      this.#held.splice(0, drop);
      this.#evicted += drop;
    }
  }

  #count(window: CaptureWindow, items: readonly T[]): void {
    window.items += items.length;
    for (const item of items) window.bytes += this.#options.sizeOf(item);
  }
}
