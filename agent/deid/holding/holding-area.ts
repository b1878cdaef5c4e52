// The sealed holding area of one session: frames de-id could not take in time wait here, encrypted
// with a data key that exists only in memory, until the background pass blurs them. Files live in
// `<spool>/holding/<sessionId>/`, are never named *.mcap and are never synced; each is committed
// like a chunk (temp → fsync → rename → fsync of the folder), and one that no longer opens (torn,
// altered) is counted lost, never passed on. Past its byte budget it drops the oldest or the newest
// frame, counted as `deid_holding_full`.
import { mkdirSync, unlinkSync } from 'node:fs';
import { readFile, rm, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Sample } from '../../../drivers/types.ts';
import { errnoCode } from '../../errors.ts';
import { writeFileAtomic } from '../../fsutil/atomic-file.ts';
import type { Logger } from '../../log.ts';
import { MemoryKeyWrapper, type KeyWrapper } from './key-wrapper.ts';
import { openFrame, sealFrame } from './sealed-frame.ts';

/** Which frame goes when the holding area is full. */
export type HoldingDropPolicy = 'oldest' | 'newest';

/** Why a held frame was lost. */
export type HeldLossCause = 'deid_holding_full' | 'deid_held_lost';

/** `<spool>/holding`: one folder per session with held frames. */
export function holdingRoot(spoolDir: string): string {
  return join(spoolDir, 'holding');
}

/** One frame in the holding area. */
export interface HeldEntry {
  readonly name: string;
  readonly stream: string;
  readonly captureNs: bigint;
  readonly bytes: number;
  /** When it was held (monotonic), to measure how late it was blurred. */
  readonly heldAtNs: bigint;
}

export interface HoldingAreaOptions {
  readonly spoolDir: string;
  readonly sessionId: string;
  readonly budgetBytes: number;
  readonly dropPolicy: HoldingDropPolicy;
  readonly log: Logger;
  /** Seals the session's data key; the default keeps it in memory only. */
  readonly keyWrapper?: KeyWrapper;
  /** Told about every held frame that is lost (already deleted), to count it under its cause. */
  readonly onLost: (entry: HeldEntry, cause: HeldLossCause) => void;
}

/** What `put` did with a frame. */
export type HoldResult = { readonly kind: 'held'; readonly entry: HeldEntry } | { readonly kind: 'full' };

/** Frames lost per stream when the holding area is emptied without blurring them. */
export interface HeldLoss {
  readonly stream: string;
  readonly count: number;
  readonly startNs: bigint;
  readonly endNs: bigint;
}

/** A session's sealed holding area: put, take the oldest, read it back, release it. */
export class HoldingArea {
  readonly dir: string;
  readonly budgetBytes: number;
  readonly dropPolicy: HoldingDropPolicy;
  readonly keyWrapperKind: string;
  readonly #key: Buffer;
  readonly #opts: HoldingAreaOptions;
  /** Frames waiting for the background pass, oldest first (by when they were held). */
  #queued: HeldEntry[] = [];
  /** Frames taken by the background pass and not yet released. */
  readonly #taken = new Set<HeldEntry>();
  /** Bytes on disk or being written. */
  #bytes = 0;
  #next = 1;
  #listeners: Array<() => void> = [];

  private constructor(opts: HoldingAreaOptions, key: Buffer, kind: string) {
    this.#opts = opts;
    this.dir = join(holdingRoot(opts.spoolDir), opts.sessionId);
    this.budgetBytes = opts.budgetBytes;
    this.dropPolicy = opts.dropPolicy;
    this.keyWrapperKind = kind;
    this.#key = key;
  }

  /** Creates the session's folder and its data key. */
  static async open(opts: HoldingAreaOptions): Promise<HoldingArea> {
    const wrapper = opts.keyWrapper ?? new MemoryKeyWrapper();
    const { key } = await wrapper.newDataKey();
    const area = new HoldingArea(opts, key, wrapper.kind);
    mkdirSync(area.dir, { recursive: true, mode: 0o700 });
    return area;
  }

  /** Frames held and not yet released (queued or being blurred). */
  get frames(): number {
    return this.#queued.length + this.#taken.size;
  }
  /** Frames waiting to be taken. */
  get queued(): number {
    return this.#queued.length;
  }
  get bytes(): number {
    return this.#bytes;
  }
  /** Capture time of the oldest frame still held, or undefined when empty. */
  get oldestCaptureNs(): bigint | undefined {
    let oldest: bigint | undefined;
    for (const e of [...this.#queued, ...this.#taken])
      if (oldest === undefined || e.captureNs < oldest) oldest = e.captureNs;
    return oldest;
  }

  /** Calls `listener` whenever a frame is held (the background pass wakes on it). */
  onHeld(listener: () => void): void {
    this.#listeners.push(listener);
  }

  /** Seals and commits a frame, making room under the drop policy first; `full` when it may not be held. */
  async put(sample: Sample): Promise<HoldResult> {
    const name = `${String(this.#next++).padStart(12, '0')}.held`;
    const sealed = sealFrame(sample, this.#key, name);
    if (!this.#makeRoom(sealed.length)) return { kind: 'full' };
    // Reserved before the write, so frames sealed at the same time cannot overrun the budget together.
    this.#bytes += sealed.length;
    const entry: HeldEntry = {
      name,
      stream: sample.stream,
      captureNs: sample.captureNs,
      bytes: sealed.length,
      heldAtNs: process.hrtime.bigint(),
    };
    try {
      await writeFileAtomic(join(this.dir, name), sealed, { mode: 0o600, onExisting: 'fail' });
    } catch (err) {
      this.#bytes -= sealed.length;
      throw err;
    }
    // Writes finish in any order: the queue stays in the order frames were put (capture order per stream).
    this.#enqueue(entry);
    for (const listener of this.#listeners) listener();
    return { kind: 'held', entry };
  }

  /** The oldest queued frame (of `stream`, when given), now the caller's until it is released or given back. */
  take(stream?: string): HeldEntry | undefined {
    const at = stream === undefined ? 0 : this.#queued.findIndex((e) => e.stream === stream);
    if (at < 0) return undefined;
    const [entry] = this.#queued.splice(at, 1);
    if (entry !== undefined) this.#taken.add(entry);
    return entry;
  }

  /** Whether a frame of `stream` is queued. */
  hasQueued(stream: string): boolean {
    return this.#queued.some((e) => e.stream === stream);
  }

  /** A taken frame goes back to its place in the queue, by when it was held (the pool had no room for it). */
  giveBack(entry: HeldEntry): void {
    if (!this.#taken.delete(entry)) return;
    this.#enqueue(entry);
  }

  /** Reads and opens a taken frame; a frame that no longer opens is deleted and counted lost. */
  async read(entry: HeldEntry): Promise<Sample | undefined> {
    try {
      return openFrame(await readFile(join(this.dir, entry.name)), this.#key, entry.name);
    } catch (err) {
      this.#opts.log.error(
        { stream: entry.stream, file: entry.name, err },
        'held frame does not open (torn or altered); counted lost',
      );
      await this.release(entry);
      this.#opts.onLost(entry, 'deid_held_lost');
      return undefined;
    }
  }

  /** Deletes a taken frame's ciphertext (it was blurred and written, or counted lost). */
  async release(entry: HeldEntry): Promise<void> {
    if (!this.#taken.delete(entry)) return;
    await this.#delete(entry);
  }

  /** Deletes every queued frame, counting each lost under `cause`; returns the loss per stream. */
  async discardQueued(cause: HeldLossCause): Promise<HeldLoss[]> {
    const entries = this.#queued.splice(0);
    const byStream = new Map<string, { count: number; startNs: bigint; endNs: bigint }>();
    for (const e of entries) {
      // Counted lost whatever the unlink says: a file it could not remove is still unreadable
      // (its key dies with the process) and is deleted by the next start's recovery.
      await this.#delete(e).catch((err: unknown) =>
        this.#opts.log.error({ file: e.name, err }, 'could not delete a held frame'),
      );
      this.#opts.onLost(e, cause);
      const s = byStream.get(e.stream);
      if (s === undefined) byStream.set(e.stream, { count: 1, startNs: e.captureNs, endNs: e.captureNs });
      else {
        s.count++;
        if (e.captureNs < s.startNs) s.startNs = e.captureNs;
        if (e.captureNs > s.endNs) s.endNs = e.captureNs;
      }
    }
    return [...byStream].map(([stream, s]) => ({ stream, ...s }));
  }

  /** Removes the session's folder once nothing is held in it. */
  async close(): Promise<void> {
    if (this.frames > 0) return;
    await rm(this.dir, { recursive: true, force: true });
  }

  /** Evicts queued frames (oldest first) under the `oldest` policy until `bytes` fit; false when they cannot. */
  #makeRoom(bytes: number): boolean {
    if (this.#bytes + bytes <= this.budgetBytes) return true;
    if (this.dropPolicy === 'newest' || bytes > this.budgetBytes) return false;
    while (this.#bytes + bytes > this.budgetBytes) {
      const oldest = this.#queued.shift();
      if (oldest === undefined) return false;
      // Unlinked at once (a short metadata call), so the folder never holds more than the budget.
      try {
        unlinkSync(join(this.dir, oldest.name));
      } catch (err) {
        if (errnoCode(err) !== 'ENOENT') throw err;
      }
      this.#bytes -= oldest.bytes;
      this.#opts.onLost(oldest, 'deid_holding_full');
    }
    return true;
  }

  /** Queues a frame at its place by name (names count up as frames are put). */
  #enqueue(entry: HeldEntry): void {
    let at = this.#queued.length;
    while (at > 0 && this.#queued[at - 1]!.name > entry.name) at--;
    this.#queued.splice(at, 0, entry);
  }

  async #delete(entry: HeldEntry): Promise<void> {
    try {
      await unlink(join(this.dir, entry.name));
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT') throw err;
    }
    this.#bytes -= entry.bytes;
  }
}
