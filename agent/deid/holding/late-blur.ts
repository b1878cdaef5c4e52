// The background pass over the holding area: takes the oldest held frame when the inline frames
// leave a worker free (or, while draining at stop and for ingest, as fast as the workers go), blurs
// it, writes it into the session's open chunk with its original stamps, then deletes its
// ciphertext. A frame is written before its ciphertext goes, so a crash in between can only count a
// written frame as lost, never lose one uncounted.
//
// With lookahead (k > 0) the pass blurs a stream's held frames as a run in capture order: a frame's
// blur waits for the k frames after it (see stream-scan.ts), so the pass keeps taking that stream's
// frames while the run is open, and a frame with no later held frame of its stream queued is sent
// as the last of its stream (nothing waits for frames that do not exist). While capturing, a run is
// closed as soon as the pass may take no more (its next frame goes as the last); at stop, and when
// the frames a run waited for were lost, the stream's scan is flushed.
import type { Sample } from '../../../drivers/types.ts';
import type { Logger } from '../../log.ts';
import type { HeldEntry, HoldingArea } from './holding-area.ts';

/** What the stage made of one held frame. */
export type LateOutcome =
  | {
      readonly kind: 'ok';
      readonly sample: Sample;
      readonly boxes: { face: number; plate: number };
      /** Of those, boxes filled from tracks where the detector missed them. */
      readonly filled?: { face: number; plate: number };
    }
  /** The pool had no room: the frame goes back and is tried again. */
  | { readonly kind: 'busy' }
  | { readonly kind: 'failed' };

export interface LateBlurPorts {
  readonly holding: HoldingArea;
  readonly log: Logger;
  /**
   * Redacts a held frame (the stage does it as for inline frames, on the stream's late scan).
   * `last`: no later frame of the stream will follow it soon, so its blur waits for none.
   */
  redact(sample: Sample, options: { last: boolean }): Promise<LateOutcome>;
  /** Whether `redact` would be taken now rather than answered `busy` (asked right before it). */
  hasRoom(): boolean;
  /** Frames after each held frame its blur waits for (the late scan's lookahead); 0: past only. */
  readonly lookaheadFrames?: number;
  /** Frames of the stream already begun wait for no later frame (their fill uses what is known). */
  flush?(stream: string): void;
  /** Writes a blurred frame into the session's open chunk. */
  deliver(sample: Sample): Promise<void>;
  /** Whether inline frames leave a worker free now. */
  inlineIdle(): boolean;
  /** Late frames in flight at once while draining (workers + one queued). */
  readonly drainConcurrency: number;
  /** A held frame was blurred and written `delayNs` after it was held. */
  onBlurred(
    entry: HeldEntry,
    delayNs: bigint,
    boxes: { face: number; plate: number },
    filled: { face: number; plate: number },
  ): void;
  /** A held frame failed de-id: dropped, as an inline frame would be. */
  onFailed(entry: HeldEntry): void;
}

/** A held frame taken and not yet settled. */
interface Taken {
  readonly stream: string;
  /** Sent as the last of its stream: waits for no later frame. */
  readonly last: boolean;
  /** Frames of its stream taken after it while it was in flight. */
  after: number;
}

/** Whether a taken frame went to the pool or back to the holding area (so the next one must too). */
type Turn = 'sent' | 'back';

/** Blurs held frames in the background; `drain` empties the holding area at stop. */
export class LateBlurPass {
  readonly #p: LateBlurPorts;
  readonly #k: number;
  /** Frames in flight, in the order taken. */
  readonly #taken = new Set<Taken>();
  /** Streams whose latest taken frame was sent expecting later frames (an open run). */
  readonly #open = new Set<string>();
  /**
   * Per stream, when the latest taken frame has been sent or given back. Frames are read in
   * parallel but sent in the order taken: a frame's place in its stream's scan is fixed when the
   * pool takes it, and a run's fill needs that place to be its capture order.
   */
  readonly #turns = new Map<string, Promise<Turn>>();
  #mode: 'idle' | 'drain' | 'stopped' = 'idle';
  #inFlight = 0;
  #waiters: Array<() => void> = [];
  #retry: NodeJS.Timeout | undefined;
  #blurred = 0;
  #maxDelayNs = 0n;

  constructor(ports: LateBlurPorts) {
    this.#p = ports;
    this.#k = Math.max(0, Math.floor(ports.lookaheadFrames ?? 0));
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
    this.#flushStranded();
    if (this.#retry !== undefined) return;
    const holding = this.#p.holding;
    while (this.#mode !== 'stopped' && holding.queued > 0) {
      let entry: HeldEntry | undefined;
      let last: boolean;
      if (this.#computing() < this.#allowance()) {
        // An open run goes on with its own stream's next frame, in capture order.
        const [stream] = [...this.#open].filter((s) => holding.hasQueued(s));
        entry = holding.take(stream);
        if (entry === undefined) return;
        last = this.#k === 0 || !holding.hasQueued(entry.stream);
      } else {
        // While capturing, the pass may take no more now: an open run ends with its next frame.
        if (this.#mode !== 'idle') return;
        const [stream] = [...this.#open].filter((s) => holding.hasQueued(s));
        if (stream === undefined) return;
        entry = holding.take(stream);
        if (entry === undefined) return;
        last = true;
      }
      this.#launch(entry, last);
    }
  }

  #launch(entry: HeldEntry, last: boolean): void {
    for (const t of this.#taken) if (t.stream === entry.stream) t.after++;
    const taken: Taken = { stream: entry.stream, last, after: 0 };
    this.#taken.add(taken);
    if (last) this.#open.delete(entry.stream);
    else this.#open.add(entry.stream);
    this.#inFlight++;
    const previous = this.#turns.get(entry.stream) ?? Promise.resolve<Turn>('sent');
    let turn!: (t: Turn) => void;
    const mine = new Promise<Turn>((resolve) => (turn = resolve));
    this.#turns.set(entry.stream, mine);
    void this.#blur(entry, last, previous, turn)
      .then((busy) => {
        if (!busy) return;
        // Given back untried: frames taken before it wait for it again, so their run is open.
        for (const t of this.#taken) {
          if (t === taken) break;
          if (t.stream === entry.stream && t.after > 0) t.after--;
        }
        if ([...this.#taken].some((t) => t.stream === entry.stream && t !== taken && !t.last))
          this.#open.add(entry.stream);
      })
      .catch((err: unknown) =>
        this.#p.log.error({ stream: entry.stream, err }, 'late de-id of a held frame failed'),
      )
      .finally(() => {
        turn('back');
        if (this.#turns.get(entry.stream) === mine) this.#turns.delete(entry.stream);
        this.#taken.delete(taken);
        this.#inFlight--;
        for (const wake of this.#waiters.splice(0)) wake();
        this.kick();
      });
  }

  /** Frames in flight that are not waiting only for later frames of their stream to be taken. */
  #computing(): number {
    let n = 0;
    for (const t of this.#taken) if (t.last || t.after >= this.#k) n++;
    return n;
  }

  /** An open run whose next frame is gone (evicted, torn) or that will get none (stopped): flushed. */
  #flushStranded(): void {
    for (const stream of this.#open) {
      if (this.#mode !== 'stopped' && this.#p.holding.hasQueued(stream)) continue;
      this.#open.delete(stream);
      this.#p.flush?.(stream);
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
    while (this.#inFlight > 0) {
      // Frames in flight wait for no later frame now (one still queued in the pool is covered on a later turn).
      for (const stream of new Set([...this.#taken].map((t) => t.stream))) this.#p.flush?.(stream);
      this.#open.clear();
      await this.#settledOrAfter(this.#k > 0 ? 100 : 1000);
    }
  }

  #allowance(): number {
    if (this.#mode === 'drain') return this.#p.drainConcurrency;
    // While capturing, one late frame at a time and only on a worker the inline frames leave free
    // (a frame waiting only for later frames of its run does not count).
    return this.#computing() === 0 && this.#p.inlineIdle() ? 1 : 0;
  }

  /**
   * Blurs and writes one held frame; true when it went back to the holding area untried. It is
   * sent once the frame taken before it of its stream has been (`previous`), and says so by `turn`;
   * when that one went back, this one goes back too, so that no frame of a run overtakes another.
   */
  async #blur(
    entry: HeldEntry,
    last: boolean,
    previous: Promise<Turn>,
    turn: (t: Turn) => void,
  ): Promise<boolean> {
    const sample = await this.#p.holding.read(entry);
    if (sample === undefined) {
      // Lost unread: the next frame's turn is this one's predecessor's.
      turn(await previous);
      return false;
    }
    const sent = (await previous) === 'sent' && this.#p.hasRoom();
    // Asked and sent in one step, so the room cannot go in between.
    const redacted = sent ? this.#p.redact(sample, { last }) : undefined;
    turn(sent ? 'sent' : 'back');
    const outcome = redacted === undefined ? ({ kind: 'busy' } as const) : await redacted;
    if (outcome.kind === 'busy') {
      this.#p.holding.giveBack(entry);
      // Nothing else may wake the pass when the pool is busy with frames it does not own: look again soon.
      this.#retry ??= setTimeout(() => {
        this.#retry = undefined;
        this.kick();
      }, 20);
      return true;
    }
    if (outcome.kind === 'failed') {
      await this.#p.holding.release(entry);
      this.#p.onFailed(entry);
      return false;
    }
    await this.#p.deliver(outcome.sample);
    await this.#p.holding.release(entry);
    const delayNs = process.hrtime.bigint() - entry.heldAtNs;
    this.#blurred++;
    if (delayNs > this.#maxDelayNs) this.#maxDelayNs = delayNs;
    this.#p.onBlurred(entry, delayNs, outcome.boxes, outcome.filled ?? { face: 0, plate: 0 });
    return false;
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
