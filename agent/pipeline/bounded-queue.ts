// A per-stream buffer between a driver and the writer. It is bounded by count and by bytes so
// that memory stays bounded whatever the producer does; when full it applies the stream's named
// drop policy and counts every drop under its cause. One consumer reads it asynchronously.
import type { DropPolicy } from '../config/types.ts';
import type { DropCause } from '../../drivers/types.ts';

/** The causes a queue itself can drop for. */
export type QueueDropCause = Extract<DropCause, 'queue_full' | 'oversize'>;

export interface BoundedQueueOptions<T> {
  /** Max items held. */
  maxCount: number;
  /** Max bytes held (sum of `sizeOf`); an item larger than this on its own is dropped as `oversize`. */
  maxBytes: number;
  dropPolicy: DropPolicy;
  /** Bytes an item accounts for. */
  sizeOf: (item: T) => number;
  /** Told about every dropped item, after it was counted. */
  onDrop?: (item: T, cause: QueueDropCause) => void;
}

export interface BoundedQueueStats {
  length: number;
  bytes: number;
  /** Items offered while open. */
  offered: number;
  /** Items handed to the consumer. */
  delivered: number;
  drops: Record<QueueDropCause, number>;
  /** Items refused because the queue was already closed or destroyed (not a drop: intake had stopped). */
  refusedClosed: number;
  highWaterBytes: number;
}

interface Waiter<T> {
  resolve: (item: T | undefined) => void;
  reject: (err: unknown) => void;
  cleanup: () => void;
}

/** A FIFO bounded by count and bytes with a named drop policy and an async single-consumer side. */
export class BoundedQueue<T> implements AsyncIterable<T> {
  readonly #options: BoundedQueueOptions<T>;
  // Ring-less FIFO: items[head..] are live; compacted when the dead prefix grows large.
  #items: T[] = [];
  #sizes: number[] = [];
  #head = 0;
  #bytes = 0;
  #closed = false;
  #destroyedWith: Error | undefined;
  #destroyed = false;
  #waiters: Waiter<T>[] = [];
  /** The batch consumer waiting in `whenReady` (one at a time). */
  #ready: { resolve: (more: boolean) => void; reject: (err: unknown) => void } | undefined;
  #stats: Omit<BoundedQueueStats, 'length' | 'bytes'> = {
    offered: 0,
    delivered: 0,
    drops: { queue_full: 0, oversize: 0 },
    refusedClosed: 0,
    highWaterBytes: 0,
  };

  constructor(options: BoundedQueueOptions<T>) {
    if (!(options.maxCount >= 1) || !(options.maxBytes >= 1)) {
      throw new RangeError('BoundedQueue needs maxCount >= 1 and maxBytes >= 1');
    }
    this.#options = options;
  }

  get length(): number {
    return this.#items.length - this.#head;
  }

  get bytes(): number {
    return this.#bytes;
  }

  /** Offers an item; returns true when it was enqueued (other items may have been dropped for it). */
  push(item: T): boolean {
    if (this.#closed || this.#destroyed) {
      this.#stats.refusedClosed += 1;
      return false;
    }
    this.#stats.offered += 1;
    const size = this.#options.sizeOf(item);
    if (size > this.#options.maxBytes) {
      this.#drop(item, 'oversize');
      return false;
    }
    // A waiting consumer means the queue is empty: hand over directly.
    const waiter = this.#waiters.shift();
    if (waiter !== undefined) {
      waiter.cleanup();
      this.#stats.delivered += 1;
      waiter.resolve(item);
      return true;
    }
    if (!this.#fits(size)) {
      if (this.#options.dropPolicy === 'drop-newest') {
        this.#drop(item, 'queue_full');
        return false;
      }
      while (!this.#fits(size)) {
        const evicted = this.#take();
        if (evicted === undefined) break;
        this.#drop(evicted, 'queue_full');
      }
    }
    this.#items.push(item);
    this.#sizes.push(size);
    this.#bytes += size;
    if (this.#bytes > this.#stats.highWaterBytes) this.#stats.highWaterBytes = this.#bytes;
    const ready = this.#ready;
    if (ready !== undefined) {
      this.#ready = undefined;
      ready.resolve(true);
    }
    return true;
  }

  /**
   * For a batch consumer: resolves true once an item is queued, false once the queue is closed and
   * drained (or destroyed without an error); rejects when destroyed with one. One caller at a time.
   */
  whenReady(): Promise<boolean> {
    if (this.#destroyed) {
      return this.#destroyedWith === undefined ? Promise.resolve(false) : Promise.reject(this.#destroyedWith);
    }
    if (this.length > 0) return Promise.resolve(true);
    if (this.#closed) return Promise.resolve(false);
    return new Promise<boolean>((resolve, reject) => {
      this.#ready = { resolve, reject };
    });
  }

  /** Moves up to `max` queued items, oldest first, onto the end of `out` without waiting; returns how many. */
  takeInto(out: T[], max: number): number {
    let taken = 0;
    while (taken < max && this.#head < this.#items.length) {
      out.push(this.#take() as T);
      taken += 1;
    }
    this.#stats.delivered += taken;
    return taken;
  }

  /**
   * Next item, waiting for one if needed. Resolves `undefined` once the queue is closed and drained
   * or destroyed; rejects when `signal` aborts.
   */
  shift(signal?: AbortSignal): Promise<T | undefined> {
    if (this.#destroyed) {
      return this.#destroyedWith === undefined
        ? Promise.resolve(undefined)
        : Promise.reject(this.#destroyedWith);
    }
    if (this.length > 0) {
      this.#stats.delivered += 1;
      return Promise.resolve(this.#take());
    }
    if (this.#closed) return Promise.resolve(undefined);
    if (signal?.aborted === true) return Promise.reject(signal.reason);
    return new Promise<T | undefined>((resolve, reject) => {
      const onAbort = (): void => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        reject(signal?.reason);
      };
      const waiter: Waiter<T> = {
        resolve,
        reject,
        cleanup: () => signal?.removeEventListener('abort', onAbort),
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiters.push(waiter);
    });
  }

  /** Stops intake; the consumer still receives everything queued, then `undefined`. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    // Waiters exist only when the queue is empty, so they are done.
    for (const waiter of this.#waiters.splice(0)) {
      waiter.cleanup();
      waiter.resolve(undefined);
    }
    this.#settleReady(undefined);
  }

  /** Abandons queued items (not counted as drops: the consumer is gone) and wakes the consumer. Idempotent. */
  destroy(err?: Error): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    this.#closed = true;
    this.#destroyedWith = err;
    this.#items = [];
    this.#sizes = [];
    this.#head = 0;
    this.#bytes = 0;
    for (const waiter of this.#waiters.splice(0)) {
      waiter.cleanup();
      if (err === undefined) waiter.resolve(undefined);
      else waiter.reject(err);
    }
    this.#settleReady(err);
  }

  /** Wakes a batch consumer when no more items will come. */
  #settleReady(err: Error | undefined): void {
    const ready = this.#ready;
    if (ready === undefined) return;
    this.#ready = undefined;
    if (err === undefined) ready.resolve(false);
    else ready.reject(err);
  }

  /** Counters for status and metrics (a copy). */
  stats(): BoundedQueueStats {
    return {
      ...this.#stats,
      drops: { ...this.#stats.drops },
      length: this.length,
      bytes: this.#bytes,
    };
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    for (;;) {
      const item = await this.shift();
      if (item === undefined) return;
      yield item;
    }
  }

  #fits(size: number): boolean {
    return this.length + 1 <= this.#options.maxCount && this.#bytes + size <= this.#options.maxBytes;
  }

  #take(): T | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const item = this.#items[this.#head] as T;
    const size = this.#sizes[this.#head] ?? 0;
    // Release the reference so a drained item can be collected.
    (this.#items as (T | undefined)[])[this.#head] = undefined;
    this.#head += 1;
    this.#bytes -= size;
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#sizes = this.#sizes.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }

  #drop(item: T, cause: QueueDropCause): void {
    this.#stats.drops[cause] += 1;
    this.#options.onDrop?.(item, cause);
  }
}

/** A queue of Samples sized by payload bytes, from a stream's queue config. */
export function sampleQueue<T extends { data: Uint8Array }>(
  config: { size: number; maxBytes: number; dropPolicy: DropPolicy },
  onDrop?: (item: T, cause: QueueDropCause) => void,
): BoundedQueue<T> {
  return new BoundedQueue<T>({
    maxCount: config.size,
    maxBytes: config.maxBytes,
    dropPolicy: config.dropPolicy,
    sizeOf: (item) => item.data.byteLength,
    ...(onDrop === undefined ? {} : { onDrop }),
  });
}
