// ZeroMQ control socket for the robot's own software: a PULL socket (default
// ipc:///run/rigcap/control.sock) that takes one-frame UTF-8 JSON messages
// `{"type":"mark","text":"…","tags":["…"],"wallNs":"…"}` and feeds them to the MarkerInbox.
// zeromq is imported only when the socket is started.
import { dirname } from 'node:path';
import type { Pull } from 'zeromq';
import { RigcapError, errnoCode, isRigcapError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { isFolderFailure, makeFolder } from './folders.ts';
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

  /**
   * Binds the socket and starts receiving. An ipc:// socket's missing folder is made first (0750).
   * Throws RIGCAP_OPS_CONTROL_DIR (folder missing, not creatable or not writable) or
   * RIGCAP_OPS_CONTROL_BIND_FAILED (anything else, e.g. a tcp:// address in use).
   */
  async start(): Promise<void> {
    const endpoint = this.#options.endpoint;
    const folder = ipcFolder(endpoint);
    if (folder !== undefined) prepareIpcFolder(endpoint, folder, this.#options.log);
    const zmq = await import('zeromq');
    const socket = new zmq.Pull({ linger: 0, receiveHighWaterMark: 1000 });
    try {
      await socket.bind(endpoint);
    } catch (err) {
      socket.close();
      const errno = errnoCode(err);
      if (folder !== undefined && errno !== undefined && folderErrnos.has(errno))
        throw new RigcapError(
          'RIGCAP_OPS_CONTROL_DIR',
          `cannot bind control socket ${endpoint}: folder ${folder} ${folderProblem(errno)} (${errno})`,
          { cause: err, details: { endpoint, folder, errno } },
        );
      throw new RigcapError(
        'RIGCAP_OPS_CONTROL_BIND_FAILED',
        `cannot bind control socket ${endpoint} (${errno ?? String(err)})`,
        { cause: err, details: { endpoint } },
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
          log.warn({ code, err }, 'control message rejected');
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

/** errnos that say the socket's folder is the problem, not the address. */
const folderErrnos = new Set(['ENOENT', 'EACCES', 'EPERM', 'EROFS', 'ENOTDIR']);

function folderProblem(errno: string): string {
  switch (errno) {
    case 'ENOENT':
      return 'does not exist and could not be made';
    case 'ENOTDIR':
      return 'is not a folder';
    case 'EROFS':
      return 'is on a read-only filesystem';
    default:
      return 'is not writable by this user';
  }
}

/** The folder of an ipc:// endpoint's socket file; undefined for other transports and abstract sockets. */
export function ipcFolder(endpoint: string): string | undefined {
  if (!endpoint.startsWith('ipc://')) return undefined;
  const path = endpoint.slice('ipc://'.length);
  if (path.startsWith('@') || path === '' || path === '*') return undefined;
  return dirname(path);
}

/** Makes the socket's folder (0750, like the unit's RuntimeDirectory) when it is missing. */
function prepareIpcFolder(endpoint: string, folder: string, log: Logger): void {
  let made: string[];
  try {
    made = makeFolder(folder, 0o750);
  } catch (err) {
    if (!isFolderFailure(err)) throw err;
    throw new RigcapError(
      'RIGCAP_OPS_CONTROL_DIR',
      `cannot bind control socket ${endpoint}: folder ${folder} cannot be made (${err.errno}${err.folder === folder ? '' : ` at ${err.folder}`})`,
      { cause: err.cause, details: { endpoint, folder, errno: err.errno } },
    );
  }
  if (made.length > 0) log.info({ folder, mode: '0750' }, 'made the control socket folder');
}
