// systemd's notify protocol: newline-separated KEY=VALUE datagrams to $NOTIFY_SOCKET. Sent from the
// agent's own process through a tiny Node-API addon (see native/sd_notify.c for why not a helper).
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { RigcapError } from '../errors.ts';
import type { Logger } from '../log.ts';

/** Sends one datagram to a unix socket path (`@name` = abstract); returns 0 or -errno. */
export interface DatagramSender {
  send(socketPath: string, message: Buffer): number;
}

const addonPath = fileURLToPath(new URL('./native/build/sd_notify.node', import.meta.url));

/** Loads the native datagram sender; throws RIGCAP_SD_NOTIFY_UNAVAILABLE when it was not built. */
export function loadDatagramSender(): DatagramSender {
  if (!existsSync(addonPath)) {
    throw new RigcapError('RIGCAP_SD_NOTIFY_UNAVAILABLE', `the sd_notify addon is missing (${addonPath})`);
  }
  try {
    return createRequire(import.meta.url)(addonPath) as DatagramSender;
  } catch (err) {
    throw new RigcapError(
      'RIGCAP_SD_NOTIFY_UNAVAILABLE',
      `the sd_notify addon does not load: ${String(err)}`,
      {
        cause: err,
      },
    );
  }
}

/** Encodes notify fields as systemd expects them (one KEY=VALUE a line; values without newlines). */
export function encodeNotifyMessage(fields: Readonly<Record<string, string | number>>): Buffer {
  const lines = Object.entries(fields).map(([key, value]) => `${key}=${String(value).replace(/\n/g, ' ')}`);
  return Buffer.from(lines.join('\n'), 'utf8');
}

export interface SdNotifierOptions {
  /** $NOTIFY_SOCKET; undefined when not run by systemd (every call is then a no-op). */
  socketPath: string | undefined;
  log: Logger;
  /** Injected for tests; loaded lazily from the addon otherwise. */
  sender?: DatagramSender;
}

/** Tells systemd about readiness, status, liveness and shutdown. Failures are logged, never thrown. */
export class SdNotifier {
  readonly socketPath: string | undefined;
  readonly #log: Logger;
  #sender: DatagramSender | undefined;

  constructor(options: SdNotifierOptions) {
    this.socketPath = options.socketPath === '' ? undefined : options.socketPath;
    this.#log = options.log;
    this.#sender = options.sender;
    // Fail at start-up, not at READY time: without the addon systemd would wait out TimeoutStartSec.
    if (this.socketPath !== undefined && this.#sender === undefined) this.#sender = loadDatagramSender();
  }

  /** Builds a notifier from the environment systemd gives a Type=notify service. */
  static fromEnv(env: NodeJS.ProcessEnv, log: Logger): SdNotifier {
    return new SdNotifier({ socketPath: env['NOTIFY_SOCKET'], log });
  }

  /** True when a notify socket is configured. */
  get enabled(): boolean {
    return this.socketPath !== undefined;
  }

  /** READY=1 with a status line: send once the first driver is open and the spool is writable. */
  ready(status: string): boolean {
    return this.notify({ READY: 1, STATUS: status });
  }

  /** STATUS=… shown by `systemctl status`. */
  status(status: string): boolean {
    return this.notify({ STATUS: status });
  }

  /** WATCHDOG=1: the pipeline is alive. */
  watchdog(): boolean {
    return this.notify({ WATCHDOG: 1 });
  }

  /** STOPPING=1 with a status line, at the start of the ordered shutdown. */
  stopping(status: string): boolean {
    return this.notify({ STOPPING: 1, STATUS: status });
  }

  /** Sends raw fields; returns whether the datagram left. */
  notify(fields: Readonly<Record<string, string | number>>): boolean {
    if (this.socketPath === undefined || this.#sender === undefined) return false;
    const rc = this.#sender.send(this.socketPath, encodeNotifyMessage(fields));
    if (rc !== 0) {
      this.#log.warn(
        { code: 'RIGCAP_SD_NOTIFY_FAILED', errno: -rc, socket: this.socketPath, fields: Object.keys(fields) },
        'sd_notify send failed',
      );
      return false;
    }
    return true;
  }
}
