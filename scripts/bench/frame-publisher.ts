// Starts the bench publisher thread (frame-publisher-worker.ts) and reports the receiver's progress
// back to it through a shared counter, refreshed every `pollMs` so the receiver pays no per-message cost.
import { Worker } from 'node:worker_threads';
import type { PublisherWorkerData } from './frame-publisher-worker.ts';

/** A publisher thread, connected and waiting for `go()`. */
export interface BenchPublisher {
  /** Starts sending; returns the hrtime (ns) at which it was told to. */
  go(): bigint;
  /** Resolves when every message has been handed to ZeroMQ. */
  readonly sent: Promise<void>;
  /** Stops the thread (after the receiver has everything). */
  close(): Promise<void>;
}

const workerUrl = new URL('./frame-publisher-worker.ts', import.meta.url);

/** Starts a publisher; `progress()` is what the receiver has finished (written or received). */
export async function startPublisher(options: {
  endpoint: string;
  topic: string;
  type: string;
  encoding: string;
  payloads: readonly Uint8Array[];
  count: number;
  /** Messages allowed ahead of `progress()`; 0 = no limit. */
  window: number;
  progress: () => number;
  pollMs?: number;
}): Promise<BenchPublisher> {
  const done = new Int32Array(new SharedArrayBuffer(4));
  const init: PublisherWorkerData = {
    endpoint: options.endpoint,
    topic: options.topic,
    type: options.type,
    encoding: options.encoding,
    payloads: [...options.payloads],
    count: options.count,
    window: options.window,
    done,
  };
  const worker = new Worker(workerUrl, { workerData: init });
  await new Promise<void>((resolve, reject) => {
    worker.once('online', resolve);
    worker.once('error', reject);
  });
  let poll: NodeJS.Timeout | undefined;
  const sent = new Promise<void>((resolve, reject) => {
    worker.on('message', (m: { sent?: number; error?: string }) => {
      if (m.error !== undefined) reject(new Error(`bench publisher: ${m.error}`));
      else resolve();
    });
    worker.once('error', reject);
  });
  sent.catch(() => undefined);
  return {
    go() {
      if (options.window > 0) {
        poll = setInterval(() => {
          Atomics.store(done, 0, options.progress());
        }, options.pollMs ?? 2);
      }
      const at = process.hrtime.bigint();
      worker.postMessage('go');
      return at;
    },
    sent,
    async close() {
      if (poll !== undefined) clearInterval(poll);
      const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
      worker.postMessage('stop');
      // The thread closes its socket and exits by itself (terminate() with a live socket aborts).
      await exited;
    },
  };
}
