// De-id workers let go while they may still be busy. A worker terminated while onnxruntime runs a
// session aborts the whole process when the call returns (the addon's error cannot be thrown into
// the stopping thread, and node-addon-api's second C++ throw ends in std::terminate), so a retired
// worker finishes the native call it is in, drops the rest of its frames and exits by itself
// (terminated only with a grace period, for test doubles that can hang in JavaScript).
import type { Worker } from 'node:worker_threads';
import type { Logger } from '../log.ts';
import type { PoolMessage, WorkerReply } from './worker-protocol.ts';

/** A retired worker still running after this long is logged (once). */
export const retiredBusyWarnMs = 60_000;

/** Retired workers until they have exited. */
export class RetiredWorkers {
  readonly #log: Logger;
  readonly #graceMs: number | undefined;
  /** Retired workers not yet exited, with what resolves when they have. */
  readonly #exits = new Map<Worker, Promise<void>>();

  /** `graceMs`: terminate a retired worker still running after this long (never, when absent). */
  constructor(options: { log: Logger; graceMs?: number | undefined }) {
    this.#log = options.log;
    this.#graceMs = options.graceMs;
  }

  /** Retired workers still finishing the call they were in. */
  get count(): number {
    return this.#exits.size;
  }

  /** Resolves when `worker` (retired) has exited; undefined when it is not retiring. */
  exited(worker: Worker): Promise<void> | undefined {
    return this.#exits.get(worker);
  }

  /** Resolves when every worker retired so far has exited. */
  async all(): Promise<void> {
    await Promise.all(this.#exits.values());
  }

  /**
   * Lets a busy worker go without terminating it mid-call: it finishes the native call it is in,
   * drops its frames (nobody waits for them now) and exits. `loading`: it is still loading or
   * warming up, and is stopped once it says it is done.
   */
  retire(worker: Worker, options: { loading?: boolean } = {}): void {
    // threadId is -1 once the thread has stopped (its init failed): nothing is left to retire.
    if (this.#exits.has(worker) || worker.threadId === -1) return;
    // Detach first so its answers and its exit no longer touch the pool (or the next job there).
    // Only these events: removeAllListeners() would also drop the Worker's own hooks that keep its
    // message port referenced, and the worker's last messages would never arrive.
    for (const event of ['message', 'error', 'exit'] as const) worker.removeAllListeners(event);
    // One still loading or warming up is idle once it says so: then it can be stopped safely.
    if (options.loading === true)
      worker.on('message', (reply: WorkerReply) => {
        if (reply.type === 'ready' || reply.type === 'init-error') void worker.terminate();
      });
    const grace = setTimeout(() => this.#overdue(worker), this.#graceMs ?? retiredBusyWarnMs);
    const exited = new Promise<void>((resolve) => {
      worker.once('exit', () => {
        clearTimeout(grace);
        this.#exits.delete(worker);
        resolve();
      });
    });
    worker.on('error', (err) =>
      this.#log.warn({ err, code: 'RIGCAP_DEID_INFERENCE' }, 'retired de-id worker failed'),
    );
    // The timer alone does not hold the process open; the worker itself does, until it exits.
    grace.unref();
    this.#exits.set(worker, exited);
    const retire: PoolMessage = { type: 'retire' };
    worker.postMessage(retire);
  }

  /** A retired worker still running: logged, or terminated when a grace period is set. */
  #overdue(worker: Worker): void {
    const graceMs = this.#graceMs;
    if (graceMs === undefined) {
      this.#log.warn(
        { code: 'RIGCAP_DEID_INFERENCE', afterMs: retiredBusyWarnMs },
        'retired de-id worker still inside its frame; it exits when the call returns',
      );
      return;
    }
    this.#log.error(
      { code: 'RIGCAP_DEID_INFERENCE', graceMs },
      'retired de-id worker still busy after its grace period; terminating it',
    );
    void worker.terminate();
  }
}
