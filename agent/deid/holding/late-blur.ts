// The background pass over the holding area: takes the oldest held frame when the inline frames
// leave a worker free (or, while draining at stop and for ingest, as fast as the workers go), blurs
// it, writes it into the session's open chunk with its original stamps, then deletes its
// ciphertext. A frame is written before its ciphertext goes, so a crash in between can only count a
// written frame as lost, never lose one uncounted.
import type { Sample } from '../../../drivers/types.ts';
import type { Logger } from '../../log.ts';
import type { HeldEntry, HoldingArea } from './holding-area.ts';

/** What the stage made of one held frame. */
export type LateOutcome =
  | { readonly kind: 'ok'; readonly sample: Sample; readonly boxes: { face: number; plate: number } }
  /** The pool had no room: the frame goes back and is tried again. */
  | { readonly kind: 'busy' }
  | { readonly kind: 'failed' };

export interface LateBlurPorts {
  readonly holding: HoldingArea;
  readonly log: Logger;
  /** Redacts a held frame (the stage does it as for inline frames, on the stream's late scan). */
  redact(sample: Sample): Promise<LateOutcome>;
  /** Writes a blurred frame into the session's open chunk. */
  deliver(sample: Sample): Promise<void>;
  /** Whether inline frames leave a worker free now. */
  inlineIdle(): boolean;
  /** Late frames in flight at once while draining (workers + one queued). */
  readonly drainConcurrency: number;
  /** A held frame was blurred and written `delayNs` after it was held. */
  onBlurred(entry: HeldEntry, delayNs: bigint, boxes: { face: number; plate: number }): void;
  /** A held frame failed de-id: dropped, as an inline frame would be. */
  onFailed(entry: HeldEntry): void;
}

/** Blurs held frames in the background; `drain` empties the holding area at stop. */
export class LateBlurPass {
  readonly #p: LateBlurPorts;
  #mode: 'idle' | 'drain' | 'stopped' = 'idle';
  #inFlight = 0;
  #waiters: Array<() => void> = [];
  #retry: NodeJS.Timeout | undefined;
  #blurred = 0;
  #maxDelayNs = 0n;

  constructor(ports: LateBlurPorts) {
    this.#p = ports;
    ports.holding.onHeld(() => this.kick());
  }

  /** Held frames blurred and written so far. */
  get blurred(): number {
    return this.#blurred;
  }
  /** Longest time a frame waited in the holding area before it was written blurred. */
  get maxDelayNs(): bigint {
    return this.#maxDelayNs;
  }
  get mode(): 'idle' | 'drain' | 'stopped' {
    return this.#mode;
  }

  /** Takes held frames while the mode allows; called when a frame is held or any frame settles. */
  kick(): void {
    if (this.#retry !== undefined) return;
    while (this.#mode !== 'stopped' && this.#p.holding.queued > 0 && this.#inFlight < this.#allowance()) {
      const entry = this.#p.holding.take();
      if (entry === undefined) return;
      this.#inFlight++;
      void this.#blur(entry)
        .catch((err: unknown) =>
          this.#p.log.error({ stream: entry.stream, err: String(err) }, 'late de-id of a held frame failed'),
        )
        .finally(() => {
          this.#inFlight--;
          for (const wake of this.#waiters.splice(0)) wake();
          this.kick();
        });
    }
  }

  /**
   * Blurs every held frame with all workers until none is left or `deadlineMs` passes; then stops
   * taking frames and waits for those in flight. `onProgress` is told the frames still held.
   */
  async drain(options: { deadlineMs?: number; onProgress?: (held: number) => void } = {}): Promise<void> {
    if (this.#mode === 'stopped') return;
    this.#mode = 'drain';
    const deadline =
      options.deadlineMs === undefined ? Number.POSITIVE_INFINITY : Date.now() + options.deadlineMs;
    this.kick();
    let lastProgressMs = 0;
    while (this.#p.holding.frames > 0 && Date.now() < deadline) {
      await this.#settledOrAfter(Math.min(1000, Math.max(1, deadline - Date.now())));
      if (options.onProgress !== undefined && Date.now() - lastProgressMs >= 1000) {
        lastProgressMs = Date.now();
        options.onProgress(this.#p.holding.frames);
      }
    }
    await this.stop();
  }

  /** Takes no more frames; resolves when those in flight are settled. Idempotent. */
  async stop(): Promise<void> {
    this.#mode = 'stopped';
    if (this.#retry !== undefined) clearTimeout(this.#retry);
    while (this.#inFlight > 0) await this.#settledOrAfter(1000);
  }

  #allowance(): number {
    if (this.#mode === 'drain') return this.#p.drainConcurrency;
    // While capturing, one late frame at a time and only on a worker the inline frames leave free.
    return this.#inFlight === 0 && this.#p.inlineIdle() ? 1 : 0;
  }

  async #blur(entry: HeldEntry): Promise<void> {
    const sample = await this.#p.holding.read(entry);
    if (sample === undefined) return;
    const outcome = await this.#p.redact(sample);
    if (outcome.kind === 'busy') {
      this.#p.holding.giveBack(entry);
      // Nothing else may wake the pass when the pool is busy with frames it does not own: look again soon.
      this.#retry ??= setTimeout(() => {
        this.#retry = undefined;
        this.kick();
      }, 20);
      return;
    }
    if (outcome.kind === 'failed') {
      await this.#p.holding.release(entry);
      this.#p.onFailed(entry);
      return;
    }
    await this.#p.deliver(outcome.sample);
    await this.#p.holding.release(entry);
    const delayNs = process.hrtime.bigint() - entry.heldAtNs;
    this.#blurred++;
    if (delayNs > this.#maxDelayNs) this.#maxDelayNs = delayNs;
    this.#p.onBlurred(entry, delayNs, outcome.boxes);
  }

  #settledOrAfter(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.#waiters.push(done);
    });
  }
}
