// A fixed set of worker threads that redact images in parallel with capture. The pending queue is
// bounded: a frame that finds it full is refused at once (backpressure) rather than waiting, and a
// job past its deadline fails and its worker is replaced (a running inference cannot be cancelled).
import { Worker } from 'node:worker_threads';
import type { Logger } from '../log.ts';
import { RigcapError, errorCatalogue, type ErrorCode } from '../errors.ts';
import type { FaceScanPlan, FaceScanReport } from './face-scan.ts';
import type { Detection } from './geometry.ts';
import type { JobRequest, WorkerError, WorkerInit, WorkerReply } from './worker-protocol.ts';

/** The image payload of one sample. */
export interface PoolJob {
  readonly encoding: string;
  readonly schemaRef: string;
  readonly data: Uint8Array;
  /** The stream's face scan plan for this frame (see face-scan.ts). */
  readonly plan?: FaceScanPlan | undefined;
}

/** How a job ended. */
export type PoolOutcome =
  | {
      readonly kind: 'done';
      readonly data: Uint8Array;
      readonly detections: readonly Detection[];
      readonly faceScan: FaceScanReport | undefined;
      readonly ms: number;
    }
  | { readonly kind: 'backpressure' }
  | { readonly kind: 'failed'; readonly error: RigcapError };

export interface WorkerPoolOptions {
  readonly size: number;
  readonly maxPending: number;
  readonly timeoutMs: number;
  readonly init: WorkerInit;
  readonly log: Logger;
  /** The worker entry; tests substitute one that hangs or throws. */
  readonly workerUrl?: URL;
}

interface Pending {
  readonly id: number;
  readonly job: PoolJob;
  readonly resolve: (outcome: PoolOutcome) => void;
}

interface Slot {
  worker: Worker;
  ready: boolean;
  current: Pending | undefined;
  timer: NodeJS.Timeout | undefined;
}

const defaultWorkerUrl = new URL('./worker.ts', import.meta.url);

/** Rebuilds a RigcapError from its thread-safe form. */
function fromWorkerError(e: WorkerError): RigcapError {
  const code = (Object.hasOwn(errorCatalogue, e.code) ? e.code : 'RIGCAP_DEID_INFERENCE') as ErrorCode;
  return new RigcapError(code, e.message);
}

/** Worker threads running the de-id detectors, with a bounded queue and per-job deadline. */
export class DeidWorkerPool {
  readonly #options: WorkerPoolOptions;
  readonly #slots: Slot[] = [];
  readonly #queue: Pending[] = [];
  #nextId = 1;
  #closing = false;
  #destroyed = false;
  #drained: (() => void) | undefined;
  #broken: RigcapError | undefined;

  constructor(options: WorkerPoolOptions) {
    this.#options = options;
  }

  /** Starts every worker and waits until all have loaded their models; rejects with the first load error. */
  async start(): Promise<void> {
    const starts: Promise<void>[] = [];
    for (let i = 0; i < this.#options.size; i++) starts.push(this.#spawn());
    try {
      await Promise.all(starts);
    } catch (err) {
      this.destroy();
      throw err;
    }
  }

  /** Frames waiting for a worker (not counting those being processed). */
  get pending(): number {
    return this.#queue.length;
  }

  /** Queues a job; answers `backpressure` at once when the queue is full. */
  submit(job: PoolJob): Promise<PoolOutcome> {
    if (this.#closing || this.#destroyed) {
      return Promise.resolve({
        kind: 'failed',
        error: new RigcapError('RIGCAP_DEID_INFERENCE', 'de-id pool is closed'),
      });
    }
    if (this.#broken !== undefined) return Promise.resolve({ kind: 'failed', error: this.#broken });
    const idle = this.#slots.find((s) => s.ready && s.current === undefined);
    if (idle === undefined && this.#queue.length >= this.#options.maxPending)
      return Promise.resolve({ kind: 'backpressure' });
    return new Promise((resolve) => {
      const pending: Pending = { id: this.#nextId++, job, resolve };
      if (idle !== undefined) this.#dispatch(idle, pending);
      else this.#queue.push(pending);
    });
  }

  /** Finishes queued and in-flight jobs, then stops the workers. Idempotent. */
  async close(): Promise<void> {
    if (this.#destroyed) return;
    this.#closing = true;
    if (this.#queue.length > 0 || this.#slots.some((s) => s.current !== undefined)) {
      await new Promise<void>((resolve) => (this.#drained = resolve));
    }
    await Promise.all(this.#slots.map((s) => s.worker.terminate()));
    this.#destroyed = true;
  }

  /** Fails every queued and in-flight job and stops the workers now. Idempotent. */
  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    const error = new RigcapError('RIGCAP_DEID_INFERENCE', 'de-id pool destroyed');
    for (const p of this.#queue.splice(0)) p.resolve({ kind: 'failed', error });
    for (const slot of this.#slots) {
      if (slot.timer !== undefined) clearTimeout(slot.timer);
      slot.current?.resolve({ kind: 'failed', error });
      slot.current = undefined;
      void slot.worker.terminate();
    }
    this.#drained?.();
  }

  #spawn(replacing?: Slot): Promise<void> {
    const worker = new Worker(this.#options.workerUrl ?? defaultWorkerUrl, {
      workerData: this.#options.init,
    });
    const slot: Slot = replacing ?? { worker, ready: false, current: undefined, timer: undefined };
    slot.worker = worker;
    slot.ready = false;
    if (replacing === undefined) this.#slots.push(slot);
    return new Promise((resolve, reject) => {
      worker.on('message', (reply: WorkerReply) => {
        if (reply.type === 'ready') {
          slot.ready = true;
          resolve();
          this.#pump(slot);
        } else if (reply.type === 'init-error') {
          reject(fromWorkerError(reply.error));
        } else {
          this.#finish(
            slot,
            reply.id,
            reply.type === 'result'
              ? {
                  kind: 'done',
                  data: reply.data,
                  detections: reply.detections,
                  faceScan: reply.faceScan,
                  ms: reply.ms,
                }
              : { kind: 'failed', error: fromWorkerError(reply.error) },
          );
        }
      });
      worker.on('error', (err) => {
        this.#options.log.error({ err, code: 'RIGCAP_DEID_INFERENCE' }, 'de-id worker crashed');
        reject(
          new RigcapError('RIGCAP_DEID_INFERENCE', `de-id worker crashed: ${String(err)}`, { cause: err }),
        );
      });
      worker.on('exit', () => {
        if (slot.worker !== worker || this.#destroyed || (this.#closing && slot.current === undefined))
          return;
        slot.ready = false;
        const current = slot.current;
        if (current !== undefined)
          this.#finish(slot, current.id, {
            kind: 'failed',
            error: new RigcapError('RIGCAP_DEID_INFERENCE', 'de-id worker exited mid-frame'),
          });
        this.#respawn(slot);
      });
    });
  }

  #respawn(slot: Slot): void {
    if (this.#destroyed) return;
    this.#spawn(slot).catch((err: unknown) => {
      this.#options.log.error({ err, code: 'RIGCAP_DEID_INFERENCE' }, 'de-id worker could not be restarted');
      // A slot that cannot come back leaves queued frames nobody would take: fail them now.
      this.#broken = err instanceof RigcapError ? err : new RigcapError('RIGCAP_DEID_INFERENCE', String(err));
      for (const p of this.#queue.splice(0)) p.resolve({ kind: 'failed', error: this.#broken });
    });
  }

  #dispatch(slot: Slot, pending: Pending): void {
    slot.current = pending;
    slot.timer = setTimeout(() => this.#timeout(slot, pending), this.#options.timeoutMs);
    const data = Uint8Array.from(pending.job.data);
    const { plan } = pending.job;
    const request: JobRequest = {
      type: 'job',
      id: pending.id,
      encoding: pending.job.encoding,
      schemaRef: pending.job.schemaRef,
      data,
      ...(plan === undefined ? {} : { plan }),
    };
    slot.worker.postMessage(request, [data.buffer]);
  }

  #timeout(slot: Slot, pending: Pending): void {
    if (slot.current !== pending) return;
    this.#options.log.warn(
      { code: 'RIGCAP_DEID_INFERENCE', timeoutMs: this.#options.timeoutMs },
      'de-id frame timed out; replacing its worker',
    );
    const old = slot.worker;
    slot.ready = false;
    this.#finish(slot, pending.id, {
      kind: 'failed',
      error: new RigcapError(
        'RIGCAP_DEID_INFERENCE',
        `de-id frame took longer than ${this.#options.timeoutMs} ms`,
      ),
    });
    // Detach before terminating so the old worker's exit does not fail the next job.
    old.removeAllListeners();
    void old.terminate();
    this.#respawn(slot);
  }

  #finish(slot: Slot, id: number, outcome: PoolOutcome): void {
    const current = slot.current;
    if (current === undefined || current.id !== id) return;
    if (slot.timer !== undefined) clearTimeout(slot.timer);
    slot.timer = undefined;
    slot.current = undefined;
    current.resolve(outcome);
    this.#pump(slot);
  }

  #pump(slot: Slot): void {
    if (slot.ready && slot.current === undefined) {
      const next = this.#queue.shift();
      if (next !== undefined) this.#dispatch(slot, next);
    }
    if (this.#closing && this.#queue.length === 0 && this.#slots.every((s) => s.current === undefined))
      this.#drained?.();
  }
}
