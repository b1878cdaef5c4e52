// Turns Samples into committed MCAP chunk files for one session. A file is split by size, by
// capture-time duration, or on request (calibration change), and committed as
//   sessions/<sessionId>/chunk-NNNNNN.mcap.partial → fsync → rename to .mcap → fsync dir
// then handed to `onCommit` (the sealer signs it right after the rename). A file that fills up or
// runs out of time is committed behind the writes that follow (they go into the next file at once):
// the fsyncs and the signing of one file never hold up samples of any stream. Commits still run one
// at a time and in order. Every file is self-contained: all schemas/channels, the latest value of
// every latched stream, and whatever the hooks add (calibration attachments, time-sync metadata).
import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../log.ts';
import type { ChunkingConfig } from '../config/types.ts';
import type { Sample } from '../../drivers/types.ts';
import { RigcapError } from '../errors.ts';
import { AdaptiveZstdCompressor, type ChunkCompressor } from './chunk-compression.ts';
import { fsyncDir } from '../fsutil/atomic-file.ts';
import { HashingFile, type OpenChunkFile } from './chunk-file.ts';
import {
  addExtras,
  addSample,
  finishFile,
  mapError,
  registerStream,
  type Lane,
  type OpenFile,
} from './open-chunk.ts';
import { McapEncoder } from './mcap-encoder.ts';
import {
  chunkFileName,
  parseChunkIndex,
  type BatchWrite,
  type CaptureStream,
  type ChunkHooks,
  type CommittedChunk,
} from './chunk-types.ts';

export interface ChunkWriterOptions {
  /** Spool root; files go under `sessions/<sessionId>/`. */
  spoolDir: string;
  sessionId: string;
  chunking: ChunkingConfig;
  logger: Logger;
  /** Called after each rename + directory fsync, before the next chunk opens. */
  onCommit?: (chunk: CommittedChunk) => void | Promise<void>;
  /** Called once a sample is in the open file (before that file's `beforeClose`). */
  onSampleAdded?: (sample: Sample) => void;
  hooks?: ChunkHooks;
  /** First index to use; existing chunk files in the session folder push it further. Default 1. */
  firstChunkIndex?: number;
  /** MCAP header library string. */
  library?: string;
  /** Defaults to adaptive zstd at `chunking.zstdLevel`. */
  compressor?: ChunkCompressor;
  /** Defaults to a hashing file on disk (tests inject faults here). */
  openFile?: OpenChunkFile;
}

/** Writes one session's samples into committed, self-contained MCAP chunk files. */
export class ChunkWriter {
  readonly #options: ChunkWriterOptions;
  readonly #log: Logger;
  readonly #sessionDir: string;
  readonly #maxDurationNs: bigint;
  readonly #maxBytes: number;
  readonly #compressor: ChunkCompressor;
  readonly #openFile: OpenChunkFile;
  readonly #streams = new Map<string, CaptureStream>();
  readonly #latched = new Map<string, Sample>();
  #nextChunkIndex: number;
  #sessionDirReady = false;
  #current: OpenFile | undefined;
  #serial: Promise<unknown> = Promise.resolve();
  /** The commit in flight behind the writes (settles, never rejects). */
  #committing: Promise<void> = Promise.resolve();
  #commitFailure: unknown;
  #closed = false;
  #destroyed = false;

  constructor(options: ChunkWriterOptions) {
    this.#options = options;
    this.#log = options.logger.child({ component: 'chunk-writer', sessionId: options.sessionId });
    this.#sessionDir = join(options.spoolDir, 'sessions', options.sessionId);
    this.#maxDurationNs = BigInt(options.chunking.maxDurationMs) * 1_000_000n;
    this.#maxBytes = options.chunking.maxBytes;
    this.#compressor =
      options.compressor ?? new AdaptiveZstdCompressor({ level: options.chunking.zstdLevel });
    this.#openFile = options.openFile ?? HashingFile.create;
    this.#nextChunkIndex = options.firstChunkIndex ?? 1;
  }

  /** The session folder (`<spool>/sessions/<sessionId>`). */
  get sessionDir(): string {
    return this.#sessionDir;
  }

  /** Registers a stream; one added while a file is open joins that file too. */
  addStream(stream: CaptureStream): void {
    if (stream.schema.encoding === '') {
      throw new RigcapError(
        'RIGCAP_INTERNAL',
        `stream ${stream.name} has no schema; every channel needs one`,
      );
    }
    if (this.#streams.has(stream.name)) return;
    this.#streams.set(stream.name, stream);
    if (this.#current !== undefined) registerStream(this.#current, stream);
  }

  /** Writes one sample (opening, splitting and committing files as needed). Call one at a time. */
  write(sample: Sample): Promise<void> {
    return this.#exclusive(() => this.#writeOne(sample) ?? Promise.resolve());
  }

  /**
   * Writes `samples[from..]` in order, exactly as `write` would one by one, in one turn; stops at
   * the first failure and says how many were written before it (the failed one is not).
   */
  writeBatch(samples: readonly Sample[], from = 0): Promise<BatchWrite> {
    return this.#exclusive(async () => {
      let at = from;
      try {
        for (; at < samples.length; at++) {
          const pending = this.#writeOne(samples[at]!);
          if (pending !== undefined) await pending;
        }
      } catch (error) {
        return { written: at - from, error };
      }
      return { written: at - from };
    });
  }

  /** Commits the open file now (e.g. `calibration-change`); resolves undefined when none was open. */
  rotate(reason: string): Promise<CommittedChunk | undefined> {
    return this.#exclusive(() => this.#commitNow(reason));
  }

  /** Commits the open file and stops accepting samples. Idempotent. */
  close(): Promise<CommittedChunk | undefined> {
    return this.#exclusive(async () => {
      if (this.#closed) return undefined;
      this.#closed = true;
      return this.#commitNow('close');
    });
  }

  /** Abandons the open file: its `.partial` stays on disk for salvage at the next start. Idempotent. */
  async destroy(): Promise<void> {
    if (this.#destroyed) return;
    this.#destroyed = true;
    this.#closed = true;
    const current = this.#current;
    this.#current = undefined;
    await current?.file.destroy();
  }

  /**
   * Writes one sample; returns a promise only when it has to wait (a file opens or commits, or a
   * full inner chunk waits for the chunks ahead of it), so most samples cost no promise at all.
   */
  #writeOne(sample: Sample): Promise<void> | undefined {
    if (this.#commitFailure !== undefined) return this.#write(sample);
    const current = this.#current;
    const lane = current?.lanes.get(sample.stream);
    if (this.#closed || current === undefined || lane === undefined || this.#due(current, sample)) {
      return this.#write(sample);
    }
    let flushed: Promise<void> | undefined;
    try {
      flushed = addSample(current, lane, sample, sample.captureNs, { replay: false });
    } catch (err) {
      return this.#fail(current, err);
    }
    this.#options.onSampleAdded?.(sample);
    return flushed === undefined
      ? this.#afterAdd(current, lane, sample)
      : this.#afterFlush(current, lane, sample, flushed);
  }

  async #write(sample: Sample): Promise<void> {
    if (this.#closed) throw new RigcapError('RIGCAP_INTERNAL', 'ChunkWriter.write after close');
    const stream = this.#streams.get(sample.stream);
    if (stream === undefined) {
      throw new RigcapError('RIGCAP_INTERNAL', `sample for unregistered stream ${sample.stream}`);
    }
    this.#throwCommitFailure();
    if (this.#current !== undefined && this.#due(this.#current, sample)) await this.#commitBehind('duration');
    const current = this.#current ?? (await this.#open(sample.captureNs, sample.monoNs));
    let flushed: Promise<void> | undefined;
    const lane = current.lanes.get(stream.name);
    try {
      if (lane === undefined)
        throw new RigcapError('RIGCAP_INTERNAL', `stream ${stream.name} has no channel in ${current.name}`);
      flushed = addSample(current, lane, sample, sample.captureNs, { replay: false });
    } catch (err) {
      return this.#fail(current, err);
    }
    this.#options.onSampleAdded?.(sample);
    await (flushed === undefined
      ? this.#afterAdd(current, lane, sample)
      : this.#afterFlush(current, lane, sample, flushed));
  }

  async #afterFlush(current: OpenFile, lane: Lane, sample: Sample, flushed: Promise<void>): Promise<void> {
    try {
      await flushed;
    } catch (err) {
      return this.#fail(current, err);
    }
    await this.#afterAdd(current, lane, sample);
  }

  /** After a sample is in the file: remember latched values, commit when the file is full. */
  #afterAdd(current: OpenFile, lane: Lane, sample: Sample): Promise<void> | undefined {
    if (lane.stream.latched) this.#latched.set(lane.stream.name, sample);
    if (current.encoder.estimatedByteCount < this.#maxBytes) return undefined;
    return this.#commitBehind('size');
  }

  /**
   * Detaches the open file and commits it in the background; the next sample opens the next file.
   * Waits only for a commit still in flight, so hooks and `onCommit` keep their one-at-a-time order.
   * A background failure abandons that file (its `.partial` is salvaged) and is thrown by the next write.
   */
  async #commitBehind(reason: string): Promise<void> {
    await this.#committing;
    const commit = this.#commit(reason);
    this.#committing = commit.then(
      () => undefined,
      (err: unknown) => {
        this.#commitFailure ??= err;
      },
    );
  }

  /** Commits the open file after any commit in flight, and waits for it (rotate, close). */
  async #commitNow(reason: string): Promise<CommittedChunk | undefined> {
    await this.#committing;
    const commit = this.#commit(reason);
    this.#committing = commit.then(
      () => undefined,
      () => undefined,
    );
    return commit;
  }

  /** Rethrows (once) the failure of a commit that ran behind the writes. */
  #throwCommitFailure(): void {
    const failure = this.#commitFailure;
    if (failure === undefined) return;
    this.#commitFailure = undefined;
    throw failure;
  }

  /**
   * A file closes by duration when capture time moved `maxDurationMs` past its start, or when it has
   * been open that long by the monotonic clock. Older capture times join the open file: after a
   * stall, per-stream queues resume at different times, and rotating backwards too would split the
   * catch-up into tiny chunks; the open-age rule still closes a file opened by a far-future stamp.
   */
  #due(current: OpenFile, sample: Sample): boolean {
    return (
      sample.captureNs - current.anchorNs >= this.#maxDurationNs ||
      sample.monoNs - current.openedMonoNs >= this.#maxDurationNs
    );
  }

  async #fail(current: OpenFile, err: unknown): Promise<never> {
    await this.#abandon(current, err);
    throw mapError(err);
  }

  async #open(startNs: bigint, openedMonoNs: bigint): Promise<OpenFile> {
    await this.#prepareSessionDir();
    const chunkIndex = this.#nextChunkIndex++;
    const name = chunkFileName(chunkIndex);
    const finalPath = join(this.#sessionDir, name);
    const partialPath = `${finalPath}.partial`;
    const file = await this.#openFile(partialPath);
    const encoder = new McapEncoder({
      sink: file,
      compressor: this.#compressor,
      chunkBytes: this.#options.chunking.mcapChunkBytes,
      profile: 'ros2',
      library: this.#options.library ?? 'rigcap',
    });
    const current: OpenFile = {
      chunkIndex,
      name,
      partialPath,
      finalPath,
      file,
      encoder,
      lanes: new Map(),
      stats: new Map(),
      startNs,
      endNs: startNs,
      anchorNs: startNs,
      openedMonoNs,
      messages: 0,
    };
    try {
      await encoder.start();
      for (const stream of this.#streams.values()) registerStream(current, stream);
      const info = { sessionId: this.#options.sessionId, chunkIndex, name, startNs };
      const extras = (await this.#options.hooks?.atOpen?.(info)) ?? {};
      await addExtras(encoder, extras, startNs);
      // Every file carries the latest latched values, stamped at its own start so they sort first.
      for (const [streamName, latest] of this.#latched) {
        const lane = current.lanes.get(streamName);
        if (lane !== undefined) await addSample(current, lane, latest, startNs, { replay: true });
      }
    } catch (err) {
      await this.#abandon(current, err);
      throw mapError(err);
    }
    this.#current = current;
    this.#log.debug({ chunk: name }, 'chunk opened');
    return current;
  }

  async #commit(reason: string): Promise<CommittedChunk | undefined> {
    const current = this.#current;
    if (current === undefined) return undefined;
    this.#current = undefined;
    const startedMs = performance.now();
    try {
      const closeInfo = {
        sessionId: this.#options.sessionId,
        chunkIndex: current.chunkIndex,
        name: current.name,
        startNs: current.startNs,
        endNs: current.endNs,
        messages: current.messages,
        streams: [...current.stats.values()],
        reason,
      };
      const extras = (await this.#options.hooks?.beforeClose?.(closeInfo)) ?? {};
      await addExtras(current.encoder, extras, current.endNs);
      const committed = await finishFile(current, closeInfo, this.#sessionDir);
      this.#log.info(
        {
          chunk: current.name,
          bytes: committed.bytes,
          messages: committed.messages,
          reason,
          commitMs: Math.round(performance.now() - startedMs),
        },
        'chunk committed',
      );
      await this.#options.onCommit?.(committed);
      return committed;
    } catch (err) {
      await this.#abandon(current, err);
      throw mapError(err);
    }
  }

  async #abandon(current: OpenFile, err: unknown): Promise<void> {
    if (this.#current === current) this.#current = undefined;
    await current.file.destroy();
    this.#log.error(
      { chunk: current.name, err },
      'chunk abandoned; its .partial is salvaged at the next start',
    );
  }

  async #prepareSessionDir(): Promise<void> {
    if (this.#sessionDirReady) return;
    try {
      await mkdir(this.#sessionDir, { recursive: true });
      await fsyncDir(join(this.#options.spoolDir, 'sessions'));
      // Continue after any chunk already in the folder (a resumed session, a salvaged partial).
      for (const entry of await readdir(this.#sessionDir)) {
        const index = parseChunkIndex(entry);
        if (index !== undefined && index >= this.#nextChunkIndex) this.#nextChunkIndex = index + 1;
      }
    } catch (err) {
      throw mapError(err);
    }
    this.#sessionDirReady = true;
  }

  #exclusive<T>(task: () => Promise<T>): Promise<T> {
    if (this.#destroyed)
      return Promise.reject(new RigcapError('RIGCAP_INTERNAL', 'ChunkWriter used after destroy'));
    const run = this.#serial.then(task);
    this.#serial = run.catch(() => undefined);
    return run;
  }
}
