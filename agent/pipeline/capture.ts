// The hot path: driver samples → per-stream BoundedQueue → optional transform (de-id) → ChunkWriter.
// Every sample is accounted in the StreamLedger as written or dropped with a cause. Intake stops
// first on shutdown; queues then drain into the writer.
import type { Driver, DropCause, Sample } from '../../drivers/types.ts';
import type { StreamConfig } from '../config/types.ts';
import { isRigcapError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { BoundedQueue } from './bounded-queue.ts';
import { sampleQueue } from './bounded-queue.ts';
import type { BatchWrite } from './chunk-types.ts';
import type { StreamLedger } from './ledger.ts';

/**
 * What a transform did with one sample. `held`: the transform keeps it (spill mode's holding area)
 * and hands it back through `writeLate`, or counts it dropped, later.
 */
export type TransformResult =
  { kind: 'ok'; sample: Sample } | { kind: 'held' } | { kind: 'dropped'; cause: DropCause };

/** A per-stream stage between queue and writer (de-identification for image streams). */
export type SampleTransform = (sample: Sample) => Promise<TransformResult>;

/** Where samples end up; ChunkWriter satisfies it. */
export interface SampleSink {
  write(sample: Sample): Promise<void>;
  /** Writes `samples[from..]` in order, stopping at the first failure (see ChunkWriter.writeBatch). */
  writeBatch?(samples: readonly Sample[], from: number): Promise<BatchWrite>;
}

/** Samples a consumer takes from its queue per write: enough to spread the per-write cost thin. */
const MAX_BATCH = 512;

/** Whether a stream may write right now (disk budget: shed low-priority streams, or pause). */
export type AdmissionCheck = (stream: StreamConfig) => DropCause | undefined;

export interface CaptureOptions {
  streams: readonly StreamConfig[];
  drivers: readonly Driver[];
  sink: SampleSink;
  ledger: StreamLedger;
  log: Logger;
  /** Transform for a stream, or undefined to write samples as they came. */
  transformFor?: (stream: StreamConfig) => SampleTransform | undefined;
  /** How many samples of one stream may be in a transform at once (order is kept). */
  transformWindow?: number;
  admit?: AdmissionCheck;
  /** Called when writing fails (disk full…): the sample is counted as dropped with `cause`. */
  onWriteError?: (err: unknown, sample: Sample) => DropCause;
  /** A gate in front of a stream's queue (snapshot mode): returns the samples to queue now. */
  gateFor?: (stream: StreamConfig) => ((sample: Sample) => readonly Sample[]) | undefined;
  /** A stream a driver discovered at run time (ROS 2 discovery): its config, or undefined to drop. */
  resolveStream?: (sample: Sample) => StreamConfig | undefined;
}

/** Runs intake and drain for a set of drivers and streams. */
export class Capture {
  readonly #opts: CaptureOptions;
  readonly #queues = new Map<string, BoundedQueue<Sample>>();
  readonly #byName = new Map<string, StreamConfig>();
  readonly #pumps: Promise<void>[] = [];
  readonly #consumers: Promise<void>[] = [];
  #progress = 0;

  constructor(opts: CaptureOptions) {
    this.#opts = opts;
    for (const s of opts.streams) this.#addStream(s);
  }

  readonly #gates = new Map<string, (sample: Sample) => readonly Sample[]>();

  /** Queues samples released outside the driver's flow (a snapshot window opened by a marker). */
  inject(stream: string, samples: readonly Sample[]): void {
    const queue = this.#queues.get(stream);
    if (queue !== undefined) for (const s of samples) queue.push(s);
  }

  #addStream(s: StreamConfig): BoundedQueue<Sample> {
    this.#byName.set(s.name, s);
    const gate = this.#opts.gateFor?.(s);
    if (gate !== undefined) this.#gates.set(s.name, gate);
    const queue = sampleQueue<Sample>(s.queue, (_item, cause) => this.#opts.ledger.drop(s.name, cause));
    this.#queues.set(s.name, queue);
    return queue;
  }

  /** Monotonic counter of samples written: the watchdog's progress signal. */
  get progress(): number {
    return this.#progress;
  }

  /** Current queue depth of a stream. */
  queueDepth(stream: string): number {
    return this.#queues.get(stream)?.length ?? 0;
  }

  /** Starts one pump per driver and one consumer per stream. */
  start(): void {
    for (const d of this.#opts.drivers) {
      d.onDrop((drop) => this.#opts.ledger.drop(drop.stream, drop.cause, drop.count));
      this.#pumps.push(this.#pump(d));
    }
    for (const [name, queue] of this.#queues)
      this.#consumers.push(this.#consume(this.#byName.get(name)!, queue));
    this.#started = true;
  }

  #started = false;

  async #pump(driver: Driver): Promise<void> {
    try {
      // A push-capable driver saves the promise per sample that async iteration costs.
      if (driver.deliver !== undefined) await driver.deliver((sample) => this.#intake(sample));
      else for await (const sample of driver.samples()) this.#intake(sample);
    } catch (err) {
      this.#opts.log.error(
        { driver: driver.name, err, code: isRigcapError(err) ? err.code : undefined },
        'driver stopped with an error',
      );
    }
  }

  /** Counts one sample from a driver and queues it, or drops it under its cause. */
  #intake(sample: Sample): void {
    const { ledger } = this.#opts;
    let stream = this.#byName.get(sample.stream);
    if (stream === undefined) {
      const discovered = this.#opts.resolveStream?.(sample);
      if (discovered === undefined) {
        ledger.drop('', 'unknown_topic');
        return;
      }
      const queue = this.#addStream(discovered);
      if (this.#started) this.#consumers.push(this.#consume(discovered, queue));
      stream = discovered;
    }
    ledger.received(stream.name);
    // A capture time before the epoch cannot be stored (MCAP times are unsigned): a bad stamp, not a sample.
    if (sample.captureNs < 0n) {
      ledger.drop(stream.name, 'decode_error');
      return;
    }
    if (sample.data.byteLength > stream.maxMessageBytes) {
      ledger.drop(stream.name, 'oversize');
      return;
    }
    const refused = this.#opts.admit?.(stream);
    if (refused !== undefined) {
      ledger.drop(stream.name, refused);
      return;
    }
    // The queue counts its own drops (queue_full, oversize) through the ledger.
    const gate = this.#gates.get(stream.name);
    if (gate === undefined) this.#queues.get(stream.name)!.push(sample);
    else for (const s of gate(sample)) this.#queues.get(stream.name)!.push(s);
  }

  async #consume(stream: StreamConfig, queue: BoundedQueue<Sample>): Promise<void> {
    const transform = this.#opts.transformFor?.(stream);
    if (transform === undefined && this.#opts.sink.writeBatch !== undefined)
      return this.#consumeBatches(stream, queue);
    if (transform === undefined) {
      for await (const sample of queue) await this.#write(stream, sample);
      return;
    }
    const window = Math.max(1, this.#opts.transformWindow ?? 1);
    // Up to `window` samples are in the transform (or finished and waiting for an earlier one) at
    // once; a writer loop writes each result in order as soon as it and those before it are done (a
    // quiet stream must not leave a finished frame waiting for the window to fill). A result with no
    // sample to write (held, dropped) frees its place at once: a frame held while an earlier one is
    // still in de-id never keeps the consumer from taking the next sample off the queue.
    const inFlight: Array<Promise<TransformResult>> = [];
    let occupied = 0;
    let added: (() => void) | undefined;
    let written: (() => void) | undefined;
    let intakeDone = false;
    let failed: { err: unknown } | undefined;
    const wake = (which: 'added' | 'written'): void => {
      const resolve = which === 'added' ? added : written;
      if (which === 'added') added = undefined;
      else written = undefined;
      resolve?.();
    };
    const writer = (async () => {
      for (;;) {
        const head = inFlight[0];
        if (head === undefined) {
          if (intakeDone) return;
          await new Promise<void>((r) => (added = r));
          continue;
        }
        const result = await head;
        if (result.kind === 'dropped') this.#opts.ledger.drop(stream.name, result.cause);
        else if (result.kind === 'ok') await this.#write(stream, result.sample);
        inFlight.shift();
        if (result.kind === 'ok') {
          occupied--;
          wake('written');
        }
      }
    })().catch((err: unknown) => {
      failed = { err };
      wake('written');
    });
    try {
      for await (const sample of queue) {
        while (occupied >= window && failed === undefined) await new Promise<void>((r) => (written = r));
        if (failed !== undefined) break;
        // A transform that throws (a bug, not a counted failure) must not stop the stream: the frame
        // is dropped as the transform's failure, never written untransformed.
        occupied++;
        const result = transform(sample)
          .catch((err: unknown): TransformResult => {
            this.#opts.log.error(
              { stream: stream.name, err },
              'transform threw: frame dropped as deid_failed',
            );
            return { kind: 'dropped', cause: 'deid_failed' };
          })
          .then((r) => {
            if (r.kind !== 'ok') {
              occupied--;
              wake('written');
            }
            return r;
          });
        inFlight.push(result);
        wake('added');
      }
    } finally {
      // Also when the queue was destroyed: samples already in the transform are still accounted.
      intakeDone = true;
      wake('added');
      await writer;
    }
    if (failed !== undefined) throw failed.err;
  }

  /** Writes a sample a transform held and finished later (a frame blurred late); counted like any other. */
  async writeLate(sample: Sample): Promise<void> {
    const stream = this.#byName.get(sample.stream);
    if (stream === undefined) {
      this.#opts.ledger.drop(sample.stream, 'unknown_topic');
      return;
    }
    await this.#write(stream, sample);
  }

  /** Without a transform: take whatever is queued and write it in one call, not one promise per sample. */
  async #consumeBatches(stream: StreamConfig, queue: BoundedQueue<Sample>): Promise<void> {
    const batch: Sample[] = [];
    while (queue.length > 0 || (await queue.whenReady())) {
      batch.length = 0;
      queue.takeInto(batch, MAX_BATCH);
      await this.#writeBatch(stream, batch);
    }
  }

  async #writeBatch(stream: StreamConfig, batch: readonly Sample[]): Promise<void> {
    const { sink, ledger } = this.#opts;
    let from = 0;
    while (from < batch.length) {
      const result = await sink.writeBatch!(batch, from);
      let bytes = 0;
      for (let i = from; i < from + result.written; i++) bytes += batch[i]!.data.byteLength;
      ledger.written(stream.name, bytes, result.written);
      this.#progress += result.written;
      from += result.written;
      if (!('error' in result)) return;
      // The sample that failed is dropped under its cause, as in #write; the rest are tried again.
      const cause = this.#opts.onWriteError?.(result.error, batch[from]!);
      if (cause === undefined) throw result.error;
      ledger.drop(stream.name, cause);
      from += 1;
    }
  }

  async #write(stream: StreamConfig, sample: Sample): Promise<void> {
    try {
      await this.#opts.sink.write(sample);
      this.#opts.ledger.written(stream.name, sample.data.byteLength);
      this.#progress += 1;
    } catch (err) {
      const cause = this.#opts.onWriteError?.(err, sample);
      if (cause === undefined) throw err;
      this.#opts.ledger.drop(stream.name, cause);
    }
  }

  /** Resolves when every driver's sample stream has ended (a replayed file reached its end). */
  async intakeEnded(): Promise<void> {
    await Promise.allSettled(this.#pumps);
  }

  /** Stops intake (drivers closed by the caller first), then drains every queue into the sink. */
  async drain(): Promise<void> {
    await Promise.allSettled(this.#pumps);
    for (const q of this.#queues.values()) q.close();
    const results = await Promise.allSettled(this.#consumers);
    for (const r of results) if (r.status === 'rejected') throw r.reason;
  }

  /** Abandons queued samples (second signal, or a stop that ran out of time), counting them `stop_abandoned`. */
  destroy(err?: Error): void {
    for (const [name, q] of this.#queues) {
      if (q.length > 0) this.#opts.ledger.drop(name, 'stop_abandoned', q.length);
      q.destroy(err);
    }
  }
}
