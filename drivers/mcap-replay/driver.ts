// Replays an MCAP file (a rigcap chunk or a real ROS 2 recording) as Samples: the file's own
// schemas and channels, its topics mapped onto configured streams, at recorded or maximum speed.
// The file is streamed record by record, so memory is bounded by one MCAP chunk.
import { createReadStream } from 'node:fs';
import { open as openFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { McapIndexedReader, McapStreamReader, type McapTypes } from '@mcap/core';
import type { Logger } from 'pino';
import { DriverError } from '../errors.ts';
import { cdrHeaderStampNs, fullRosType, startsWithHeader } from '../ros-schemas.ts';
import { DriverStatsCounter } from '../stats.ts';
import type { McapReplayDriverStream } from '../stream-config.ts';
import type { Driver, DriverDrop, DriverStats, Sample, StreamSchema } from '../types.ts';
import { mcapDecompressHandlers } from './decompress.ts';
import { FileReadable } from './file-readable.ts';

export interface McapReplayDriverOptions {
  /** Streams replayed from one file at one speed. */
  readonly streams: readonly McapReplayDriverStream[];
  readonly log: Logger;
  /** Bytes read from the file per read (default 1 MiB). */
  readonly readChunkBytes?: number;
}

interface ChannelRoute {
  readonly stream: McapReplayDriverStream;
  readonly schema: StreamSchema;
  /** Why messages on this channel cannot be taken, if they cannot. */
  readonly mismatch: string | undefined;
  readonly useHeaderStamp: boolean;
}

/** Plays one MCAP file into the configured streams. */
export class McapReplayDriver implements Driver {
  readonly name: string;
  readonly file: string;
  readonly speed: 'recorded' | 'max';
  readonly #log: Logger;
  readonly #streamsBySourceTopic = new Map<string, McapReplayDriverStream>();
  readonly #schemas = new Map<string, StreamSchema>();
  readonly #stats: DriverStatsCounter;
  readonly #readChunkBytes: number;
  readonly #stop = new AbortController();
  readonly #warned = new Set<string>();
  #opened = false;
  #destroyError: Error | undefined;

  constructor(options: McapReplayDriverOptions) {
    const [first] = options.streams;
    if (first === undefined)
      throw new DriverError('RIGCAP_DRIVER_OPEN_FAILED', 'an mcap-replay driver needs at least one stream');
    this.file = first.file;
    this.speed = first.speed;
    this.name = `mcap-replay:${this.file}`;
    this.#log = options.log.child({ driver: this.name });
    this.#readChunkBytes = options.readChunkBytes ?? 1024 * 1024;
    for (const stream of options.streams) {
      if (stream.file !== this.file || stream.speed !== this.speed) {
        throw new DriverError(
          'RIGCAP_DRIVER_OPEN_FAILED',
          `stream ${stream.name} does not share file/speed with ${this.name}`,
        );
      }
      const sourceTopic =
        stream.sourceTopic === undefined || stream.sourceTopic === '' ? stream.topic : stream.sourceTopic;
      if (this.#streamsBySourceTopic.has(sourceTopic)) {
        throw new DriverError(
          'RIGCAP_DRIVER_OPEN_FAILED',
          `two streams replay topic ${sourceTopic} from ${this.file}`,
        );
      }
      this.#streamsBySourceTopic.set(sourceTopic, stream);
    }
    this.#stats = new DriverStatsCounter(options.streams.map((s) => s.name));
  }

  /** Reads the file's summary (when it has one) to learn schemas and refuse unreadable compression early. */
  async open(signal: AbortSignal): Promise<void> {
    signal.throwIfAborted();
    let handle;
    try {
      handle = await openFile(this.file, 'r');
    } catch (err) {
      throw new DriverError(
        'RIGCAP_DRIVER_OPEN_FAILED',
        `cannot open MCAP file ${this.file}: ${(err as Error).message}`,
        { cause: err, details: { file: this.file } },
      );
    }
    try {
      const reader = await McapIndexedReader.Initialize({
        readable: new FileReadable(handle),
        decompressHandlers: mcapDecompressHandlers(),
      }).catch((err: unknown) => {
        // No summary (a recording cut short): schemas are learned while streaming instead.
        this.#log.info(
          { file: this.file, reason: (err as Error).message },
          'MCAP file has no readable summary; streaming it',
        );
        return undefined;
      });
      if (reader !== undefined) {
        const compressions = new Set([...reader.chunkIndexes].map((c) => c.compression));
        if (compressions.has('lz4')) {
          throw new DriverError(
            'RIGCAP_DRIVER_UNAVAILABLE',
            `${this.file} uses lz4-compressed chunks and no lz4 decoder is installed; recompress it with \`mcap convert --compression zstd\``,
            { details: { file: this.file } },
          );
        }
        if (reader.header.profile !== '' && reader.header.profile !== 'ros2')
          this.#log.info({ profile: reader.header.profile }, 'MCAP profile is not ros2');
        for (const channel of reader.channelsById.values())
          this.#routeChannel(channel, reader.schemasById.get(channel.schemaId));
        for (const [sourceTopic, stream] of this.#streamsBySourceTopic) {
          if (!this.#schemas.has(stream.name))
            this.#log.warn(
              { stream: stream.name, sourceTopic },
              'topic not in the MCAP file; the stream stays empty',
            );
        }
      }
    } finally {
      await handle.close();
    }
    signal.throwIfAborted();
    this.#opened = true;
  }

  /** Yields the file's messages on configured topics, in file order, then ends. */
  async *samples(): AsyncGenerator<Sample> {
    if (!this.#opened)
      throw new DriverError('RIGCAP_DRIVER_OPEN_FAILED', `${this.name}: samples() before open()`);
    const routes = new Map<number, ChannelRoute | null>();
    const schemasById = new Map<number, McapTypes.Schema>();
    const seqByStream = new Map<string, number>();
    const reader = new McapStreamReader({ decompressHandlers: mcapDecompressHandlers() });
    const input = createReadStream(this.file, {
      highWaterMark: this.#readChunkBytes,
      signal: this.#stop.signal,
    });
    let firstLogTimeNs: bigint | undefined;
    let startedMs = 0;
    try {
      for await (const bytes of input as AsyncIterable<Buffer>) {
        try {
          reader.append(bytes);
        } catch (err) {
          throw asMcapError(err, this.file);
        }
        for (;;) {
          let record: McapTypes.TypedMcapRecord | undefined;
          try {
            record = reader.nextRecord();
          } catch (err) {
            throw asMcapError(err, this.file);
          }
          if (record === undefined) break;
          if (record.type === 'Schema') schemasById.set(record.id, record);
          else if (record.type === 'Channel')
            routes.set(record.id, this.#routeChannel(record, schemasById.get(record.schemaId)) ?? null);
          else if (record.type === 'Message') {
            const route = routes.get(record.channelId);
            if (route === undefined || route === null) continue;
            if (this.speed === 'recorded') {
              firstLogTimeNs ??= record.logTime;
              if (startedMs === 0) startedMs = performance.now();
              const dueMs = Number(record.logTime - firstLogTimeNs) / 1e6 - (performance.now() - startedMs);
              if (dueMs > 1) await sleep(dueMs, undefined, { signal: this.#stop.signal });
            }
            const sample = this.#accept(route, record, seqByStream);
            if (sample !== undefined) yield sample;
          }
        }
      }
      if (!reader.done() && reader.bytesRemaining() > 0)
        this.#log.warn(
          { file: this.file, bytesRemaining: reader.bytesRemaining() },
          'MCAP file ends mid-record (truncated)',
        );
    } catch (err) {
      if (!this.#stop.signal.aborted) throw err;
    } finally {
      input.destroy();
    }
    if (this.#destroyError !== undefined) throw this.#destroyError;
  }

  #accept(
    route: ChannelRoute,
    message: McapTypes.Message,
    seqByStream: Map<string, number>,
  ): Sample | undefined {
    const { stream } = route;
    if (route.mismatch !== undefined) {
      this.#stats.drop(stream.name, 'type_mismatch', 1, route.mismatch);
      return undefined;
    }
    if (message.data.byteLength > stream.maxMessageBytes) {
      this.#stats.drop(stream.name, 'oversize', 1, String(message.data.byteLength));
      return undefined;
    }
    const seq = seqByStream.get(stream.name) ?? 0;
    seqByStream.set(stream.name, seq + 1);
    const recordedNs = message.publishTime !== 0n ? message.publishTime : message.logTime;
    const captureNs = route.useHeaderStamp ? (cdrHeaderStampNs(message.data) ?? recordedNs) : recordedNs;
    this.#stats.received(stream.name, message.data.byteLength);
    return {
      stream: stream.name,
      topic: stream.topic,
      seq,
      captureNs,
      monoNs: process.hrtime.bigint(),
      encoding: stream.encoding,
      schemaRef: stream.type,
      data: message.data,
    };
  }

  #routeChannel(channel: McapTypes.Channel, schema: McapTypes.Schema | undefined): ChannelRoute | undefined {
    const stream = this.#streamsBySourceTopic.get(channel.topic);
    if (stream === undefined) return undefined;
    const streamSchema: StreamSchema = {
      name: schema?.name ?? stream.type,
      encoding: schema?.encoding ?? '',
      data: schema?.data ?? new Uint8Array(0),
      messageEncoding: channel.messageEncoding,
    };
    const wantEncoding =
      channel.messageEncoding === 'cdr' || channel.messageEncoding === 'json'
        ? channel.messageEncoding
        : 'bytes';
    let mismatch: string | undefined;
    if (stream.encoding !== wantEncoding)
      mismatch = `file encodes ${channel.topic} as ${channel.messageEncoding}, stream says ${stream.encoding}`;
    else if (schema !== undefined && fullRosType(schema.name) !== fullRosType(stream.type))
      mismatch = `file has ${schema.name} on ${channel.topic}, stream says ${stream.type}`;
    if (mismatch !== undefined && !this.#warned.has(stream.name)) {
      this.#warned.add(stream.name);
      this.#log.warn(
        { stream: stream.name, reason: mismatch },
        'replayed channel does not match the stream config; its messages are dropped as type_mismatch',
      );
    }
    this.#schemas.set(stream.name, streamSchema);
    const useHeaderStamp =
      stream.headerTime === true && wantEncoding === 'cdr' && startsWithHeader(stream.type);
    return { stream, schema: streamSchema, mismatch, useHeaderStamp };
  }

  schemas(): ReadonlyMap<string, StreamSchema> {
    return this.#schemas;
  }

  onDrop(listener: (drop: DriverDrop) => void): void {
    this.#stats.addListener(listener);
  }

  stats(): DriverStats {
    return this.#stats.snapshot();
  }

  /** Stops replaying after the current message. Idempotent. */
  async close(): Promise<void> {
    this.#stop.abort();
  }

  /** Stops at once; a pending samples() iteration rethrows `err` if given. Idempotent. */
  destroy(err?: Error): void {
    if (err !== undefined && this.#destroyError === undefined) this.#destroyError = err;
    this.#stop.abort();
  }
}

function asMcapError(err: unknown, file: string): Error {
  if (err instanceof DriverError) return err;
  return new DriverError(
    'RIGCAP_MCAP_INVALID',
    `${file} is not a readable MCAP file: ${(err as Error).message}`,
    { cause: err, details: { file } },
  );
}
