// ZeroMQ control socket for the robot's own software: a PULL socket (default
// ipc:///run/rigcap/control.sock) that takes one-frame UTF-8 JSON messages
// `{"type":"mark","text":"…","tags":["…"],"wallNs":"…"}` and feeds them to the MarkerInbox.
// zeromq is imported only when the socket is started.
import type { Pull } from 'zeromq';
import { RigcapError, errnoCode, isRigcapError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { MarkerInbox } from './markers.ts';

export interface ZmqMarkerControlOptions {
  endpoint: string;
  inbox: MarkerInbox;
  log: Logger;
}

/** Receives markers over a ZeroMQ PULL socket. `close()` is idempotent. */
export class ZmqMarkerControl {
  readonly #options: ZmqMarkerControlOptions;
  #socket: Pull | undefined;
  #loop: Promise<void> | undefined;

  constructor(options: ZmqMarkerControlOptions) {
    this.#options = options;
  }

  /** Binds the socket and starts receiving. Throws RIGCAP_OPS_LISTEN_FAILED. */
  async start(): Promise<void> {
    const zmq = await import('zeromq');
    const socket = new zmq.Pull({ linger: 0, receiveHighWaterMark: 1000 });
    try {
      await socket.bind(this.#options.endpoint);
    } catch (err) {
      socket.close();
      throw new RigcapError(
        'RIGCAP_OPS_LISTEN_FAILED',
        `cannot bind control socket ${this.#options.endpoint} (${errnoCode(err) ?? String(err)})`,
        { cause: err },
      );
    }
    this.#socket = socket;
    this.#loop = this.#receive(socket);
    this.#options.log.info({ endpoint: this.#options.endpoint }, 'marker control socket bound');
  }

  async #receive(socket: Pull): Promise<void> {
    const log = this.#options.log;
    try {
      for await (const [frame] of socket) {
        if (frame === undefined) continue;
        try {
          const message: unknown = JSON.parse(frame.toString('utf8'));
          const type = (message as { type?: unknown } | null)?.type;
          if (type !== 'mark')
            throw new RigcapError(
              'RIGCAP_MARK_INVALID',
              `unknown control message type ${JSON.stringify(type)}`,
            );
          await this.#options.inbox.submit(message, 'zmq');
        } catch (err) {
          // A bad message from one publisher must not stop the socket for the others.
          const code = isRigcapError(err) ? err.code : 'RIGCAP_MARK_INVALID';
          log.warn({ code, err: String(err) }, 'control message rejected');
        }
      }
    } catch (err) {
      if (!socket.closed) log.error({ err }, 'control socket failed');
    }
  }

  /** Closes the socket and waits for the receive loop to end. */
  async close(): Promise<void> {
    const socket = this.#socket;
    if (socket === undefined) return;
    this.#socket = undefined;
    socket.close();
    await this.#loop;
  }
}
