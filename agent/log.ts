// pino setup: JSON lines to stdout for journald, pretty when stdout is a TTY. Components get
// child loggers (`log.child({ component: 'sync' })`) from the composition root, never a global.
import { pino, type Logger, type LoggerOptions } from 'pino';

export type { Logger };

export interface LoggerSetup {
  level?: string;
  /** Force JSON even on a TTY (tests, `--json`). */
  json?: boolean;
  /** Write to this fd instead of stdout (2 when stdout carries a `--json` document). */
  fd?: number;
  /** Write JSON lines to this file instead (the demo keeps its terminal for progress). */
  file?: string;
}

/** Builds the root logger. Writes are synchronous so the last lines before an exit are not lost. */
export function createLogger(setup: LoggerSetup = {}): Logger {
  const fd = setup.fd ?? 1;
  if (setup.file !== undefined) {
    return pino(baseOptions(setup), pino.destination({ dest: setup.file, sync: true, mkdir: true }));
  }
  const options = baseOptions(setup);
  const tty = fd === 1 ? process.stdout.isTTY : process.stderr.isTTY;
  if (tty === true && setup.json !== true) {
    return pino(options, pino.transport({ target: 'pino-pretty', options: { destination: fd, sync: true } }));
  }
  return pino(options, pino.destination({ fd, sync: true }));
}

/** Level, pid, ISO time, and `err` serialized with its type, stack, code and cause chain. */
function baseOptions(setup: LoggerSetup): LoggerOptions {
  return {
    level: setup.level ?? process.env['RIGCAP_LOG_LEVEL'] ?? 'info',
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    // Log errors as `{ err }`, never `String(err)`: this keeps the stack and the errno behind a code.
    serializers: { err: pino.stdSerializers.errWithCause },
  };
}

/** A logger that discards everything (unit tests). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
