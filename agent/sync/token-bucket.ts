// Bandwidth cap for sync: a token bucket refilled at the link cap. Bodies are sent in slices that
// each wait for their tokens, so the rate stays smooth and a cancelled upload stops promptly.

/** Bytes-per-second limiter; a rate of 0 means uncapped. */
export class TokenBucket {
  readonly rateBytesPerSec: number;
  readonly burstBytes: number;
  #tokens: number;
  #lastMs: number;
  readonly #nowMs: () => number;
  #queue: Promise<void> = Promise.resolve();

  constructor(options: { rateBytesPerSec: number; burstBytes?: number; nowMs?: () => number }) {
    this.rateBytesPerSec = options.rateBytesPerSec;
    this.burstBytes = options.burstBytes ?? Math.max(64 * 1024, Math.floor(options.rateBytesPerSec / 10));
    this.#nowMs = options.nowMs ?? (() => performance.now());
    this.#tokens = this.burstBytes;
    this.#lastMs = this.#nowMs();
  }

  #refill(): void {
    const now = this.#nowMs();
    this.#tokens = Math.min(
      this.burstBytes,
      this.#tokens + ((now - this.#lastMs) * this.rateBytesPerSec) / 1000,
    );
    this.#lastMs = now;
  }

  /** Milliseconds until `bytes` tokens are available (0 when they are now); takes them. */
  reserve(bytes: number): number {
    if (this.rateBytesPerSec <= 0) return 0;
    this.#refill();
    this.#tokens -= bytes;
    return this.#tokens >= 0 ? 0 : (-this.#tokens * 1000) / this.rateBytesPerSec;
  }

  /** Resolves when `bytes` may be sent; callers are served in order so no uploader starves. */
  take(bytes: number, signal?: AbortSignal): Promise<void> {
    if (this.rateBytesPerSec <= 0) return Promise.resolve();
    const turn = this.#queue.then(() => {
      const waitMs = this.reserve(bytes);
      return waitMs <= 0 ? undefined : sleep(waitMs, signal);
    });
    this.#queue = turn.catch(() => undefined);
    return turn;
  }
}

/** setTimeout as a promise that rejects when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted === true) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Exponential backoff with equal jitter: half fixed, half random, capped. */
export function backoffMs(options: {
  attempt: number;
  minMs: number;
  maxMs: number;
  random?: () => number;
}): number {
  const random = options.random ?? Math.random;
  const exp = Math.min(options.maxMs, options.minMs * 2 ** Math.max(0, options.attempt - 1));
  return Math.round(exp / 2 + (exp / 2) * random());
}
