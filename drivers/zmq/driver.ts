// ZeroMQ driver: one SUB or PULL socket (bind or connect) serving every configured stream that
// shares its endpoint. Frames follow the wire format in frame.ts; every frame that does not become
// a Sample is counted under a drop cause.
import * as zmq from 'zeromq';
import type { Logger } from 'pino';
import { DriverError } from '../errors.ts';
import {
  cdrHeaderStampNs,
  fullRosType,
  jsonStreamSchema,
  rosStreamSchema,
  startsWithHeader,
} from '../ros-schemas.ts';
import { DriverStatsCounter } from '../stats.ts';
import type { ZmqDriverStream } from '../stream-config.ts';
import type { Driver, DriverDrop, DriverStats, Sample, StreamSchema } from '../types.ts';
import { FrameCache, maxHeaderBytes, parseFrame } from './frame.ts';
import { SeqGapTracker } from './seq-gap.ts';

/** Default receive high-water mark: messages ZeroMQ queues for us before the publisher drops (PUB) or blocks (PUSH). */
export const defaultReceiveHighWaterMark = 1000;

export interface ZmqDriverOptions {
  /** Streams sharing one endpoint, socket kind and bind flag. */
  readonly streams: readonly ZmqDriverStream[];
  readonly log: Logger;
  /** Messages queued inside ZeroMQ before back-pressure reaches the publisher. */
  readonly receiveHighWaterMark?: number;
}

interface StreamRoute {
  readonly stream: ZmqDriverStream;
  /** Read capture time from the CDR header stamp. */
  readonly useHeaderStamp: boolean;
  /** `fullRosType(stream.type)`, computed once. */
  readonly fullType: string;
  /** The last header type string that matched, so a repeat skips `fullRosType`. */
  matchedType: string | undefined;
}

/** Receives the rigcap wire format on one ZeroMQ SUB or PULL socket. */
export class ZmqDriver implements Driver {
  readonly name: string;
  readonly endpoint: string;
  readonly socketKind: 'sub' | 'pull';
  readonly #bind: boolean;
  readonly #log: Logger;
  readonly #routes = new Map<string, StreamRoute>();
  readonly #schemas = new Map<string, StreamSchema>();
  readonly #stats: DriverStatsCounter;
  readonly #seqGaps = new SeqGapTracker();
  readonly #frameCache = new FrameCache();
  readonly #receiveHighWaterMark: number;
  /** ZeroMQ refuses frames above this (ZMQ_MAXMSGSIZE) and drops the connection, so a huge frame is never buffered whole. */
  readonly socketMaxFrameBytes: number;
  readonly #warned = new Set<string>();
  #socket: zmq.Subscriber | zmq.Pull | undefined;
  #closed = false;
  #disconnects = 0;
  #destroyError: Error | undefined;

  constructor(options: ZmqDriverOptions) {
    const [first] = options.streams;
    if (first === undefined)
      throw new DriverError('RIGCAP_DRIVER_OPEN_FAILED', 'a zmq driver needs at least one stream');
    this.endpoint = first.endpoint;
    this.socketKind = first.socket;
    this.#bind = first.bind;
    this.name = `zmq:${this.socketKind}:${this.endpoint}`;
    this.#log = options.log.child({ driver: this.name });
    for (const stream of options.streams) {
      if (
        stream.endpoint !== this.endpoint ||
        stream.socket !== this.socketKind ||
        stream.bind !== this.#bind
      ) {
        throw new DriverError(
          'RIGCAP_DRIVER_OPEN_FAILED',
          `stream ${stream.name} does not share endpoint/socket/bind with ${this.name}`,
        );
      }
      if (this.#routes.has(stream.topic)) {
        throw new DriverError(
          'RIGCAP_DRIVER_OPEN_FAILED',
          `two streams use topic ${stream.topic} on ${this.endpoint}`,
          { details: { topic: stream.topic } },
        );
      }
      const useHeaderStamp =
        stream.headerTime === true && stream.encoding === 'cdr' && startsWithHeader(stream.type);
      this.#routes.set(stream.topic, {
        stream,
        useHeaderStamp,
        fullType: fullRosType(stream.type),
        matchedType: undefined,
      });
      this.#schemas.set(stream.name, schemaFor(stream));
    }
    this.#stats = new DriverStatsCounter(options.streams.map((s) => s.name));
    this.#receiveHighWaterMark = options.receiveHighWaterMark ?? defaultReceiveHighWaterMark;
    // Twice the largest stream limit: moderately oversize frames still arrive and are counted per
    // stream; anything bigger is refused by ZeroMQ before it is buffered.
    const largest = Math.max(...options.streams.map((s) => s.maxMessageBytes));
    this.socketMaxFrameBytes = Math.min(Math.max(2 * largest, maxHeaderBytes), 2 ** 31 - 1);
  }

  /** Creates the socket and binds or connects it; rejects if `signal` aborts first. */
  async open(signal: AbortSignal): Promise<void> {
    if (this.#socket !== undefined || this.#closed) return;
    signal.throwIfAborted();
    const socketOptions = {
      receiveHighWaterMark: this.#receiveHighWaterMark,
      maxMessageSize: this.socketMaxFrameBytes,
      linger: 0,
    };
    const socket =
      this.socketKind === 'sub' ? new zmq.Subscriber(socketOptions) : new zmq.Pull(socketOptions);
    if (socket instanceof zmq.Subscriber) socket.subscribe(); // all topics, so unknown ones are counted, not filtered upstream
    this.#watchDisconnects(socket);
    try {
      if (this.#bind) {
        const onAbort = (): void => socket.close();
        signal.addEventListener('abort', onAbort, { once: true });
        try {
          await socket.bind(this.endpoint);
        } finally {
          signal.removeEventListener('abort', onAbort);
        }
      } else {
        socket.connect(this.endpoint);
      }
      signal.throwIfAborted();
    } catch (err) {
      if (!socket.closed) socket.close();
      if (signal.aborted) throw signal.reason;
      throw new DriverError(
        'RIGCAP_DRIVER_OPEN_FAILED',
        `cannot ${this.#bind ? 'bind' : 'connect'} ${this.socketKind} socket to ${this.endpoint}: ${(err as Error).message}`,
        { cause: err, details: { endpoint: this.endpoint } },
      );
    }
    this.#socket = socket;
    this.#log.info(
      {
        endpoint: this.endpoint,
        socket: this.socketKind,
        bind: this.#bind,
        streams: [...this.#schemas.keys()],
      },
      'zmq driver open',
    );
  }

  /** The endpoint the socket actually bound (a `tcp://host:*` or port 0 resolved), once open. */
  get boundEndpoint(): string | undefined {
    return this.#bind ? (this.#socket?.lastEndpoint ?? undefined) : undefined;
  }

  /** Yields a Sample per accepted message until close; one consumer at a time. */
  async *samples(): AsyncGenerator<Sample> {
    const socket = this.#socket;
    if (socket === undefined)
      throw new DriverError('RIGCAP_DRIVER_OPEN_FAILED', `${this.name}: samples() before open()`);
    try {
      for await (const frames of socket) {
        const sample = this.acceptFrames(frames, process.hrtime.bigint());
        if (sample !== undefined) yield sample;
      }
    } catch (err) {
      if (!this.#closed) throw err;
    }
    if (this.#destroyError !== undefined) throw this.#destroyError;
  }

  /** Push form of `samples()`: one await per message (the receive itself), nothing more. */
  async deliver(onSample: (sample: Sample) => void): Promise<void> {
    const socket = this.#socket;
    if (socket === undefined)
      throw new DriverError('RIGCAP_DRIVER_OPEN_FAILED', `${this.name}: deliver() before open()`);
    try {
      while (!socket.closed) {
        const frames = await socket.receive();
        const sample = this.acceptFrames(frames, process.hrtime.bigint());
        if (sample !== undefined) onSample(sample);
      }
    } catch (err) {
      if (!this.#closed) throw err;
    }
    if (this.#destroyError !== undefined) throw this.#destroyError;
  }

  /**
   * Turns one received multipart message into a Sample, or counts why not. Public so the
   * accounting can be tested without a socket.
   */
  acceptFrames(frames: readonly Uint8Array[], monoNs: bigint): Sample | undefined {
    const parsed = parseFrame(frames, this.#frameCache);
    if (!parsed.ok) {
      const route = parsed.topic === undefined ? undefined : this.#routes.get(parsed.topic);
      if (route === undefined && parsed.topic !== undefined) {
        this.#stats.drop('', 'unknown_topic', 1, parsed.topic);
      } else {
        this.#stats.drop(route?.stream.name ?? '', 'malformed_frame', 1, parsed.code);
      }
      this.#warnOnce(
        `malformed:${parsed.topic ?? ''}:${parsed.code}`,
        { code: 'RIGCAP_FRAME_MALFORMED', topic: parsed.topic, reason: parsed.cause },
        'malformed zmq frame dropped',
      );
      return undefined;
    }
    const route = this.#routes.get(parsed.topic);
    if (route === undefined) {
      this.#stats.drop('', 'unknown_topic', 1, parsed.topic);
      this.#warnOnce(
        `unknown:${parsed.topic}`,
        { topic: parsed.topic },
        'zmq message on a topic no stream is configured for, dropped',
      );
      return undefined;
    }
    const { stream } = route;
    const { header, payload } = parsed;
    // Seq is tracked before any other check, so a dropped message is not also counted as loss.
    const observation = this.#seqGaps.observe(parsed.topic, header.seq);
    if (observation.restarted)
      this.#log.info({ stream: stream.name, seq: header.seq }, 'publisher sequence restarted');
    this.#stats.drop(stream.name, 'upstream_loss', observation.lost);
    if (
      header.encoding !== stream.encoding ||
      (header.type !== route.matchedType && fullRosType(header.type) !== route.fullType)
    ) {
      this.#stats.drop(stream.name, 'type_mismatch', 1, `${header.encoding} ${header.type}`);
      this.#warnOnce(
        `type:${stream.name}`,
        {
          stream: stream.name,
          got: { encoding: header.encoding, type: header.type },
          want: { encoding: stream.encoding, type: stream.type },
        },
        'zmq message type or encoding differs from the stream config, dropped',
      );
      return undefined;
    }
    if (payload.byteLength > stream.maxMessageBytes) {
      this.#stats.drop(stream.name, 'oversize', 1, String(payload.byteLength));
      return undefined;
    }
    route.matchedType = header.type;
    const captureNs = route.useHeaderStamp
      ? (cdrHeaderStampNs(payload) ?? header.captureNs)
      : header.captureNs;
    this.#stats.received(stream.name, payload.byteLength);
    return {
      stream: stream.name,
      topic: parsed.topic,
      seq: header.seq,
      captureNs,
      monoNs,
      encoding: stream.encoding,
      schemaRef: stream.type,
      data: payload,
    };
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

  /** Stops receiving; messages still queued inside ZeroMQ are discarded (linger 0). Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#socket !== undefined && !this.#socket.closed) this.#socket.close();
    this.#log.info({ stats: this.stats() }, 'zmq driver closed');
  }

  /** Closes at once; a pending samples() iteration rethrows `err` if given. Idempotent. */
  destroy(err?: Error): void {
    if (err !== undefined && this.#destroyError === undefined) this.#destroyError = err;
    if (this.#closed) return;
    this.#closed = true;
    if (this.#socket !== undefined && !this.#socket.closed) this.#socket.close();
  }

  #watchDisconnects(socket: zmq.Socket): void {
    // A frame above ZMQ_MAXMSGSIZE makes ZeroMQ drop that connection without telling which topic it
    // was; the message it carried shows up as a seq gap (upstream_loss) when the peer reconnects.
    socket.events.on('disconnect', (event) => {
      this.#disconnects += 1;
      this.#log.info(
        { peer: event.address, disconnects: this.#disconnects, limitBytes: this.socketMaxFrameBytes },
        'zmq peer disconnected (publisher exit, network, or a frame over the size limit)',
      );
    });
  }

  #warnOnce(key: string, fields: Record<string, unknown>, message: string): void {
    // One line per distinct problem: a misbehaving publisher must not flood the journal.
    if (this.#warned.has(key)) return;
    this.#warned.add(key);
    this.#log.warn(fields, message);
  }
}

function schemaFor(stream: ZmqDriverStream): StreamSchema {
  if (stream.encoding === 'json') return jsonStreamSchema(stream.type);
  if (stream.encoding === 'cdr') {
    const schema = rosStreamSchema(stream.type);
    // A ROS type outside the bundled set still gets a channel; its schema text is not known here.
    return (
      schema ?? {
        name: fullRosType(stream.type),
        encoding: 'ros2msg',
        data: new Uint8Array(0),
        messageEncoding: 'cdr',
      }
    );
  }
  return { name: stream.type, encoding: '', data: new Uint8Array(0), messageEncoding: stream.encoding };
}
