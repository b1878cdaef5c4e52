// The hand-off between rclnodejs callbacks (pushed from the executor) and the agent's async
// iteration: a bounded FIFO, so a stalled consumer costs counted drops, not unbounded memory.

import type { Sample } from '../types.ts';

/** Limits of the hand-off buffer. */
export interface SampleFifoLimits {
  maxSamples: number;
  maxBytes: number;
}

/** A bounded FIFO of samples with an async iterator that ends once closed and drained. */
export class SampleFifo {
  readonly #limits: SampleFifoLimits;
  #items: Sample[] = [];
  #head = 0;
  #bytes = 0;
  #closed = false;
  #wake: (() => void) | undefined;

  constructor(limits: SampleFifoLimits) {
    this.#limits = limits;
  }

  /** Appends a sample; false (and nothing stored) when full or closed. */
  push(sample: Sample): boolean {
    if (this.#closed) return false;
    const held = this.#items.length - this.#head;
    if (held >= this.#limits.maxSamples || this.#bytes + sample.data.byteLength > this.#limits.maxBytes)
      return false;
    this.#items.push(sample);
    this.#bytes += sample.data.byteLength;
    this.#notify();
    return true;
  }

  /** Ends iteration after what is held has been yielded (`discard: true` drops it instead). */
  close(options: { discard: boolean }): void {
    this.#closed = true;
    if (options.discard) {
      this.#items = [];
      this.#head = 0;
      this.#bytes = 0;
    }
    this.#notify();
  }

  /** Yields samples in arrival order until closed and empty. */
  async *drain(): AsyncGenerator<Sample> {
    for (;;) {
      const next = this.#shift();
      if (next !== undefined) {
        yield next;
        continue;
      }
      if (this.#closed) return;
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
    }
  }

  #shift(): Sample | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const sample = this.#items[this.#head];
    this.#head += 1;
    // Compact now and then so the array does not grow without bound.
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    if (sample !== undefined) this.#bytes -= sample.data.byteLength;
    return sample;
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}
