// The de-id stage's spill mode: a frame the pool cannot take in time is sealed in the session's
// holding area instead of dropped, and the background pass blurs held frames later, as a second
// video of their stream (with `deid.lookaheadFrames`, using the held frames after each one too),
// into the session's open chunk. Every held frame ends blurred and written, or counted lost.
import type { DropCause, Sample } from '../../../drivers/types.ts';
import type { DeidConfig } from '../../config/types.ts';
import type { Logger } from '../../log.ts';
import { countBoxes, filledBoxes, type DeidLineageAccumulator } from '../lineage.ts';
import type { DeidParams } from '../params.ts';
import { scanFor, type StreamScan } from '../stream-scan.ts';
import type { DeidWorkerPool } from '../worker-pool.ts';
import { HoldingArea, type HeldEntry, type HeldLoss, type HeldLossCause } from './holding-area.ts';
import type { KeyWrapper } from './key-wrapper.ts';
import { LateBlurPass, type LateOutcome } from './late-blur.ts';

/** The holding area's state (spill mode) for status, metrics and the bench. */
export interface DeidHoldingStatus {
  readonly mode: 'inline' | 'spill';
  /** Frames sealed and not yet blurred. */
  readonly heldFrames: number;
  readonly heldBytes: number;
  readonly budgetBytes: number;
  readonly drop: 'oldest' | 'newest';
  /** Capture time of the oldest held frame (decimal ns), null when none is held. */
  readonly oldestHeldNs: string | null;
  /** Held frames blurred and written so far. */
  readonly blurredLate: number;
  /** Longest hold before a late frame was written (decimal ns). */
  readonly maxDelayNs: string;
  /** Held frames lost, by cause. */
  readonly lost: Readonly<Record<HeldLossCause, number>>;
  /** Where the data key lives (`memory`: nothing on disk can open a held frame). */
  readonly keyWrapper: string;
}

/** What the holding area of a session needs from the agent. */
export interface HoldingPorts {
  readonly spoolDir: string;
  readonly sessionId: string;
  /** deid.holdingBytes, already capped by the disk budget. */
  readonly budgetBytes: number;
  /** Writes a late-blurred frame into the session's open chunk (counted written there). */
  deliver(sample: Sample): Promise<void>;
  /** Counts a held frame that will never be written. */
  drop(stream: string, cause: DropCause): void;
  readonly keyWrapper?: KeyWrapper;
}

/** What spill mode needs from the stage. */
export interface SpillStagePorts {
  readonly config: DeidConfig;
  readonly params: DeidParams;
  readonly workers: number;
  readonly log: Logger;
  readonly lineage: DeidLineageAccumulator;
  /** The pool when the stage is ready, else undefined. */
  pool(): DeidWorkerPool | undefined;
  /** Whether inline frames leave a worker free now. */
  inlineIdle(): boolean;
  /** A held frame was blurred: its stream is healthy. */
  onRedacted(stream: string): void;
  /** A held frame failed de-id (already counted dropped as `deid_failed`). */
  onFailed(stream: string): void;
}

/** A held frame's fate when it is offered: sealed, or dropped under its cause. */
export type HoldOutcome =
  { readonly kind: 'held' } | { readonly kind: 'dropped'; readonly cause: HeldLossCause };

/** The holding area of one session and the background pass over it. */
export class SpillHolding {
  readonly #s: SpillStagePorts;
  /** Held frames are a second video of their stream, scanned in their own order. */
  readonly #lateScans = new Map<string, StreamScan>();
  /** Held frames (stream:seq) that ran past their deadline once and went back to the holding area. */
  readonly #lateTimedOut = new Set<string>();
  readonly #lost: Record<HeldLossCause, number> = { deid_holding_full: 0, deid_held_lost: 0 };
  #holding: HoldingArea | undefined;
  #late: LateBlurPass | undefined;
  #ports: HoldingPorts | undefined;

  constructor(stage: SpillStagePorts) {
    this.#s = stage;
  }

  /** Whether a session's holding area is open (frames the pool refuses are held). */
  get active(): boolean {
    return this.#holding !== undefined;
  }

  /** Opens the session's holding area and starts the background pass. Once per stage. */
  async begin(ports: HoldingPorts): Promise<void> {
    if (this.#holding !== undefined) return;
    this.#ports = ports;
    const holding = await HoldingArea.open({
      spoolDir: ports.spoolDir,
      sessionId: ports.sessionId,
      budgetBytes: ports.budgetBytes,
      dropPolicy: this.#s.config.holdingDrop,
      log: this.#s.log,
      ...(ports.keyWrapper === undefined ? {} : { keyWrapper: ports.keyWrapper }),
      onLost: (entry, cause) => this.#heldLost(entry, cause),
    });
    this.#holding = holding;
    this.#late = new LateBlurPass({
      holding,
      log: this.#s.log,
      redact: (sample, { last }) => this.#redactLate(sample, last),
      hasRoom: () => this.#s.pool()?.hasRoom ?? true,
      lookaheadFrames: this.#lookahead,
      flush: (stream) => this.#lateScans.get(stream)?.flush(),
      deliver: (sample) => ports.deliver(sample),
      inlineIdle: () => this.#s.inlineIdle(),
      drainConcurrency: this.#s.workers + 1,
      onBlurred: (entry, delayNs, boxes, filled) => {
        this.#s.onRedacted(entry.stream);
        this.#s.lineage.record(entry.stream, { kind: 'redacted', boxes, lateDelayNs: delayNs, filled });
      },
      onFailed: (entry) => {
        ports.drop(entry.stream, 'deid_failed');
        this.#s.onFailed(entry.stream);
      },
    });
  }

  /** Seals a frame the pool could not take (call once `active`); one that cannot be sealed is dropped. */
  async hold(sample: Sample): Promise<HoldOutcome> {
    const result = await this.#holding!.put(sample).catch((err: unknown) => {
      // A frame that cannot be sealed (disk full, I/O error) is dropped, never written unblurred.
      this.#s.log.error({ stream: sample.stream, err }, 'could not hold a frame for de-id; dropped');
      return { kind: 'error' as const };
    });
    if (result.kind === 'held') return { kind: 'held' };
    const cause = result.kind === 'full' ? 'deid_holding_full' : 'deid_held_lost';
    this.#lost[cause]++;
    this.#s.lineage.record(sample.stream, { kind: 'heldLost' });
    return { kind: 'dropped', cause };
  }

  /** An inline frame settled: a worker may be free for a held one. */
  kick(): void {
    this.#late?.kick();
  }

  /** See DeidStage.finishHolding. */
  async finish(options: { deadlineMs?: number; onProgress?: (held: number) => void }): Promise<HeldLoss[]> {
    const holding = this.#holding;
    const late = this.#late;
    if (holding === undefined || late === undefined) return [];
    await late.drain(options);
    const lost = await holding.discardQueued('deid_held_lost');
    if (lost.length > 0)
      this.#s.log.warn(
        { lost: lost.map((l) => ({ stream: l.stream, frames: l.count })) },
        'held frames not blurred before the stop budget ran out; deleted unread and counted as a gap',
      );
    await holding.close();
    return lost;
  }

  /** Takes no more held frames; resolves when those in flight are settled. */
  async stop(): Promise<void> {
    await this.#late?.stop();
  }

  /** The holding area's state; before `begin` (and in inline mode), its zero values. */
  status(): DeidHoldingStatus {
    const h = this.#holding;
    const oldest = h?.oldestCaptureNs;
    const config = this.#s.config;
    return {
      mode: config.mode,
      heldFrames: h?.frames ?? 0,
      heldBytes: h?.bytes ?? 0,
      budgetBytes: h?.budgetBytes ?? this.#ports?.budgetBytes ?? config.holdingBytes,
      drop: config.holdingDrop,
      oldestHeldNs: oldest === undefined ? null : oldest.toString(),
      blurredLate: this.#late?.blurred ?? 0,
      maxDelayNs: (this.#late?.maxDelayNs ?? 0n).toString(),
      lost: { ...this.#lost },
      keyWrapper: h?.keyWrapperKind ?? 'memory',
    };
  }

  #heldLost(entry: HeldEntry, cause: HeldLossCause): void {
    this.#lost[cause]++;
    this.#s.lineage.record(entry.stream, { kind: 'heldLost' });
    this.#ports?.drop(entry.stream, cause);
  }

  /** Held frames are blurred as runs of their stream: each waits for this many held frames after it. */
  get #lookahead(): number {
    return this.#s.config.lookaheadFrames ?? 0;
  }

  async #redactLate(sample: Sample, last: boolean): Promise<LateOutcome> {
    const pool = this.#s.pool();
    if (pool === undefined) return { kind: 'failed' };
    const outcome = await pool.submit({
      encoding: sample.encoding,
      schemaRef: sample.schemaRef,
      data: sample.data,
      scan: scanFor(this.#lateScans, sample.stream, this.#s.params, this.#lookahead),
      lastOfStream: last,
    });
    if (outcome.kind === 'backpressure') return { kind: 'busy' };
    // A held frame past its deadline goes back to the holding area once; a second time it fails.
    const key = `${sample.stream}:${sample.seq}`;
    if (outcome.kind === 'failed' && outcome.timedOut === true && !this.#lateTimedOut.has(key)) {
      this.#lateTimedOut.add(key);
      return { kind: 'busy' };
    }
    this.#lateTimedOut.delete(key);
    if (outcome.kind === 'failed') return { kind: 'failed' };
    return {
      kind: 'ok',
      sample: { ...sample, data: outcome.data },
      boxes: countBoxes(outcome.detections),
      filled: filledBoxes(outcome.faceScan),
    };
  }
}
