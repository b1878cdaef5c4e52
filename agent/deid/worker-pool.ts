// A fixed set of worker threads that redact images in parallel with capture. The pending queue is
// bounded: a frame that finds it full is refused at once (backpressure) rather than waiting, and a
// job past its deadline fails and its worker is replaced (a running inference cannot be cancelled).
// A replaced or stopped worker that is still busy is retired, never terminated mid-frame (see
// worker-retire.ts). A worker whose frame waits for another frame of its stream (in flight on
// another worker, or not yet taken) is not left idle: it takes one more frame meanwhile.
import { Worker } from 'node:worker_threads';
import type { Logger } from '../log.ts';
import { RigcapError, errorCatalogue, type ErrorCode } from '../errors.ts';
import type { FaceScanReport } from './face-scan.ts';
import type { Detection } from './geometry.ts';
import type { FrameScan, StreamScan } from './stream-scan.ts';
import type { PriorityMessage } from './worker-entry.ts';
import type { JobAnswer, JobRequest, WorkerError, WorkerInit, WorkerReply } from './worker-protocol.ts';
import { RetiredWorkers } from './worker-retire.ts';

export { retiredBusyWarnMs } from './worker-retire.ts';

/** The image payload of one sample. */
export interface PoolJob {
  readonly encoding: string;
  readonly schemaRef: string;
  readonly data: Uint8Array;
  /**
   * The frame's stream: its face scan is planned when a worker takes it (see stream-scan.ts; with
   * `new StreamScan(params, { lookaheadFrames: k })` a frame's blur also uses the k frames after it).
   */
  readonly scan?: Pick<StreamScan, 'begin'> | undefined;
  /** No frame of the stream follows this one (for now): with lookahead, its fill waits for none. */
  readonly lastOfStream?: boolean;
  /** This job's deadline in ms instead of the pool's `timeoutMs` (the start-up self-test). */
  readonly timeoutMs?: number;
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
  | {
      readonly kind: 'failed';
      readonly error: RigcapError;
      /** The job ran past its deadline (the frame itself may be fine: a busy machine). */
      readonly timedOut?: true;
    };

export interface WorkerPoolOptions {
  readonly size: number;
  readonly maxPending: number;
  readonly timeoutMs: number;
  readonly init: WorkerInit;
  readonly log: Logger;
  /** The worker entry; tests substitute one that hangs or throws. */
  readonly workerUrl?: URL;
  /**
   * How far below the rest of the process the workers run (nice value added, 0–19). Default
   * `defaultWorkerNiceness`: when the CPU is short, capture wins it and de-id drops frames.
   */
  readonly niceness?: number;
  /**
   * Terminate a retired worker (replaced after a timeout, or stopped while busy) still running
   * after this long. Only for workers that can hang in JavaScript (test doubles): a real worker
   * still busy is inside onnxruntime or sharp, where terminating it aborts the process, so by
   * default it is never terminated; it is logged after `retiredBusyWarnMs` and exits when its
   * call returns.
   */
  readonly retireGraceMs?: number;
}

/**
 * Nice value added to every de-id worker thread. At +10 a thread gets about a tenth of the CPU
 * share of a nice-0 thread competing for the same core (the kernel weighs each nice step ~1.25x).
 */
export const defaultWorkerNiceness = 10;

interface Pending {
  readonly id: number;
  readonly job: PoolJob;
  readonly resolve: (outcome: PoolOutcome) => void;
  /** The frame's place in its stream's schedule, from dispatch on. */
  frame?: FrameScan | undefined;
  timer?: NodeJS.Timeout | undefined;
}

interface Slot {
  worker: Worker;
  ready: boolean;
  /** Jobs on this worker: one, or more while those before wait for other frames. */
  jobs: Pending[];
  /** The jobs waiting for an answer about other frames of their stream. */
  parked: Set<number>;
}

const defaultWorkerUrl = new URL('./worker.ts', import.meta.url);
const workerEntryUrl = new URL('./worker-entry.ts', import.meta.url);

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
  readonly #retired: RetiredWorkers;

  constructor(options: WorkerPoolOptions) {
    this.#options = options;
    this.#retired = new RetiredWorkers({ log: options.log, graceMs: options.retireGraceMs });
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

  /** Retired workers still finishing the call they were in. */
  get retiring(): number {
    return this.#retired.count;
  }

  /** Whether a job submitted now would be taken (not refused as backpressure). */
  get hasRoom(): boolean {
    return this.#freeSlot() !== undefined || this.#queue.length < this.#options.maxPending;
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
    const free = this.#freeSlot();
    if (free === undefined && this.#queue.length >= this.#options.maxPending)
      return Promise.resolve({ kind: 'backpressure' });
    return new Promise((resolve) => {
      const pending: Pending = { id: this.#nextId++, job, resolve };
      if (free !== undefined) this.#dispatch(free, pending);
      else this.#queue.push(pending);
    });
  }

  /** Finishes queued and in-flight jobs, then stops the workers. Idempotent. */
  async close(): Promise<void> {
    if (this.#destroyed) return;
    this.#closing = true;
    if (this.#queue.length > 0 || this.#slots.some((s) => s.jobs.length > 0)) {
      await new Promise<void>((resolve) => (this.#drained = resolve));
    }
    this.#destroyed = true;
    // Idle workers can stop at once; one still loading or warming up (inside onnxruntime) is retired,
    // and retired ones finish the call they are in first.
    for (const slot of this.#slots) if (!slot.ready) this.#retired.retire(slot.worker, { loading: true });
    await Promise.all(this.#slots.filter((s) => s.ready).map((s) => s.worker.terminate()));
    await this.#retired.all();
  }

  /** Fails every queued and in-flight job and stops the workers now. Idempotent. */
  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    const error = new RigcapError('RIGCAP_DEID_INFERENCE', 'de-id pool destroyed');
    for (const p of this.#queue.splice(0)) p.resolve({ kind: 'failed', error });
    for (const slot of this.#slots) {
      const busy = slot.jobs.length > 0 || !slot.ready;
      for (const job of [...slot.jobs]) this.#settle(slot, job, { kind: 'failed', error });
      // A worker loading its models or running a frame may be inside onnxruntime: it is retired.
      if (busy) this.#retired.retire(slot.worker, { loading: !slot.ready });
      else void slot.worker.terminate();
    }
    this.#drained?.();
  }

  /** An idle worker, else one whose every job waits for another frame. */
  #freeSlot(): Slot | undefined {
    return (
      this.#slots.find((s) => s.ready && s.jobs.length === 0) ??
      this.#slots.find((s) => s.ready && s.jobs.every((j) => s.parked.has(j.id)))
    );
  }

  #spawn(replacing?: Slot): Promise<void> {
    // Every worker starts in worker-entry.ts, which lowers its priority when told (once ready).
    const worker = new Worker(workerEntryUrl, {
      workerData: {
        ...this.#options.init,
        entry: (this.#options.workerUrl ?? defaultWorkerUrl).href,
      },
    });
    const slot: Slot = replacing ?? { worker, ready: false, jobs: [], parked: new Set() };
    slot.worker = worker;
    slot.ready = false;
    slot.parked = new Set();
    if (replacing === undefined) this.#slots.push(slot);
    return new Promise((resolve, reject) => {
      worker.on('message', (reply: WorkerReply) => {
        if (reply.type === 'ready') {
          const priority: PriorityMessage = {
            type: 'priority',
            niceness: this.#options.niceness ?? defaultWorkerNiceness,
          };
          worker.postMessage(priority);
          slot.ready = true;
          resolve();
          this.#pump();
        } else if (reply.type === 'init-error') {
          reject(fromWorkerError(reply.error));
          // It failed before taking a frame and waits in JavaScript now: stop it (nothing will say
          // 'ready' to let a retire stop it), without the respawn its exit would otherwise start.
          worker.removeAllListeners('exit');
          void worker.terminate();
        } else if (reply.type === 'signature' || reply.type === 'report' || reply.type === 'ask') {
          this.#converse(slot, worker, reply);
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
        if (slot.worker !== worker || this.#destroyed || (this.#closing && slot.jobs.length === 0)) return;
        slot.ready = false;
        this.#failAll(slot, 'de-id worker exited mid-frame');
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

  /** A job's worker hands on its thumbnail or findings, or asks about the frames before it. */
  #converse(
    slot: Slot,
    worker: Worker,
    reply: Extract<WorkerReply, { type: 'signature' | 'report' | 'ask' }>,
  ): void {
    const frame = slot.jobs.find((j) => j.id === reply.id)?.frame;
    if (frame === undefined) return;
    if (reply.type === 'signature') return frame.signature(reply.signature);
    if (reply.type === 'report') return frame.finish(reply.report);
    const answered = (answer: JobAnswer): void => {
      slot.parked.delete(reply.id);
      // The job may have timed out (and its worker been replaced) while the answer was awaited.
      if (slot.worker === worker && slot.jobs.some((j) => j.id === reply.id)) worker.postMessage(answer);
    };
    if (frame.waits(reply.need)) {
      // The other frame is still being worked on (elsewhere, or not yet taken). Parked whatever this
      // worker's other jobs do, so that once all of them wait it takes another frame (#freeSlot):
      // parked only when the others already waited, a job stayed unparked and the worker sat idle.
      slot.parked.add(reply.id);
      this.#pump();
    }
    if (reply.need === 'reference')
      void frame.reference().then((reference) => answered({ type: 'reference', id: reply.id, reference }));
    else if (reply.need === 'context')
      void frame.context().then((context) => answered({ type: 'context', id: reply.id, context }));
    else void frame.fill().then((fill) => answered({ type: 'fill', id: reply.id, fill }));
  }

  #dispatch(slot: Slot, pending: Pending): void {
    slot.jobs.push(pending);
    pending.timer = setTimeout(() => this.#timeout(slot, pending), this.#deadline(pending));
    const data = Uint8Array.from(pending.job.data);
    // Half the deadline at most for the frames after it (lookahead), the rest for its blur.
    pending.frame = pending.job.scan?.begin({
      last: pending.job.lastOfStream === true,
      fillWaitMs: this.#deadline(pending) / 2,
    });
    const plan = pending.frame?.plan;
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

  #deadline(pending: Pending): number {
    return pending.job.timeoutMs ?? this.#options.timeoutMs;
  }

  #timeout(slot: Slot, pending: Pending): void {
    if (!slot.jobs.includes(pending)) return;
    const timeoutMs = this.#deadline(pending);
    this.#options.log.warn(
      { code: 'RIGCAP_DEID_INFERENCE', timeoutMs },
      'de-id frame timed out; retiring its worker and starting another',
    );
    const old = slot.worker;
    slot.ready = false;
    this.#settle(slot, pending, {
      kind: 'failed',
      error: new RigcapError('RIGCAP_DEID_INFERENCE', `de-id frame took longer than ${timeoutMs} ms`),
      timedOut: true,
    });
    // A frame sharing the worker goes with it, marked late too so that spill mode holds it again.
    this.#failAll(slot, 'de-id worker replaced after another frame timed out', { timedOut: true });
    this.#retired.retire(old);
    // The replacement starts once the retired worker has left its native call: starting it at once
    // put one more thread on cores that the slow frame already showed were short, and under load
    // each timeout bred the next (new workers warming up beside retired ones still finishing).
    void this.#retired.exited(old)?.then(() => this.#respawn(slot));
  }

  #failAll(slot: Slot, message: string, mark: { timedOut?: true } = {}): void {
    for (const job of [...slot.jobs])
      this.#settle(slot, job, {
        kind: 'failed',
        error: new RigcapError('RIGCAP_DEID_INFERENCE', message),
        ...mark,
      });
  }

  #finish(slot: Slot, id: number, outcome: PoolOutcome): void {
    const job = slot.jobs.find((j) => j.id === id);
    if (job === undefined) return;
    this.#settle(slot, job, outcome);
    this.#pump();
  }

  /** Takes a job off its worker and resolves it; its stream stops waiting for it. */
  #settle(slot: Slot, job: Pending, outcome: PoolOutcome): void {
    if (job.timer !== undefined) clearTimeout(job.timer);
    slot.jobs = slot.jobs.filter((j) => j !== job);
    slot.parked.delete(job.id);
    job.frame?.finish(outcome.kind === 'done' ? outcome.faceScan : undefined);
    job.resolve(outcome);
  }

  #pump(): void {
    for (let slot = this.#freeSlot(); slot !== undefined && this.#queue.length > 0; slot = this.#freeSlot())
      this.#dispatch(slot, this.#queue.shift()!);
    if (this.#closing && this.#queue.length === 0 && this.#slots.every((s) => s.jobs.length === 0))
      this.#drained?.();
  }
}
