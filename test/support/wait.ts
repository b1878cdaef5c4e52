// Bounded waits for tests. A test waits for an event or a state (a log line, a status field, a file),
// never for a fixed time; every bound is a generous hang detector that names what it waited for, not
// a speed figure. The one timed pause left (`delay`) is for a stimulus at a chosen moment.

/** How long to wait and what for (the name goes into the timeout error). */
export interface WaitOptions {
  /** Generous bound (tens of seconds for a process under load). */
  timeoutMs: number;
  /** What the wait is for, as the error should say it: "capture to resume". */
  what: string;
  /** Poll period; 100 ms unless given. */
  everyMs?: number;
  /** More context for the timeout error (last status, last log lines). */
  detail?: () => string;
}

/** The error a wait throws when its bound passes. */
export class WaitTimeoutError extends Error {
  override readonly name = 'WaitTimeoutError';
}

/** A value `check` may return to mean "not yet". */
type NotYet = undefined | false;

/**
 * Polls `check` until it returns a value other than undefined or false, and returns that value.
 * An error thrown by `check` ends the wait at once (a child that exited early is not waited for).
 */
export async function waitFor<T>(
  check: () => T | NotYet | Promise<T | NotYet>,
  options: WaitOptions,
): Promise<Exclude<T, NotYet>> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value as Exclude<T, NotYet>;
    if (Date.now() > deadline) throw timeoutError(options);
    await delay(options.everyMs ?? 100);
  }
}

/** `promise`, or a WaitTimeoutError naming `what` when it has not settled within `timeoutMs`. */
export async function within<T>(promise: Promise<T>, options: Omit<WaitOptions, 'everyMs'>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => reject(timeoutError(options)), options.timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * `promise`'s value, or `fallback` when it has not settled within `timeoutMs` (a process that never
 * ends reads as 'hung' in an assertion that shows the expected exit beside it).
 */
export async function settledWithin<T, F>(
  promise: Promise<T>,
  timeoutMs: number,
  fallback: F,
): Promise<T | F> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<F>((resolve) => {
        timer = setTimeout(() => resolve(fallback), timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Resolves after `ms`. Only for a stimulus at a chosen moment (a kill at a random point of capture)
 * or a poll period; a test that needs a state waits for it with `waitFor`.
 */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function timeoutError(options: Omit<WaitOptions, 'everyMs'>): WaitTimeoutError {
  const detail = options.detail?.();
  return new WaitTimeoutError(
    `timed out after ${options.timeoutMs} ms waiting for ${options.what}${detail === undefined ? '' : `; ${detail}`}`,
  );
}
