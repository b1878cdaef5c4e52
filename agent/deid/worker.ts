// Worker thread entry: loads the verified models once, then redacts images on request.
import { parentPort, workerData } from 'node:worker_threads';
import sharp from 'sharp';
import type { SampleEncoding } from '../../drivers/types.ts';
import { isRigcapError } from '../errors.ts';
import { FrameDetector } from './detector.ts';
import { redactImageSample } from './redact.ts';
import type { FaceScanPeer } from './face-scan.ts';
import type {
  JobAnswer,
  JobRequest,
  PoolMessage,
  WorkerError,
  WorkerInit,
  WorkerReply,
} from './worker-protocol.ts';

function toWorkerError(err: unknown): WorkerError {
  return isRigcapError(err)
    ? { code: err.code, message: err.message }
    : { code: 'RIGCAP_DEID_INFERENCE', message: String(err) };
}

/** Sets up sharp and loads the detector (warmed up when asked); undefined after an init-error is posted. */
async function loadDetector(
  init: WorkerInit,
  post: (reply: WorkerReply) => void,
): Promise<FrameDetector | undefined> {
  // Parallelism comes from the pool's workers, one frame each; libvips threads per call would only contend.
  sharp.concurrency(init.intraOpThreads);
  // No frame is decoded or resized twice: libvips' operation cache would only hold frames in memory.
  sharp.cache(false);
  let detector: FrameDetector;
  try {
    detector = await FrameDetector.load({
      specs: init.specs,
      params: init.params,
      intraOpThreads: init.intraOpThreads,
      provider: init.provider,
    });
  } catch (err) {
    post({ type: 'init-error', error: toWorkerError(err) });
    return undefined;
  }
  if (init.warmUpJpeg !== undefined) {
    // Untimed first run of every session (see WorkerInit.warmUpJpeg); a failure here shows in the self-test.
    await redactImageSample(
      { encoding: 'jpeg', schemaRef: '', data: init.warmUpJpeg },
      { detector, params: init.params },
    ).catch(() => undefined);
  }
  return detector;
}

async function serve(): Promise<void> {
  const port = parentPort;
  if (port === null) throw new Error('worker.ts must run as a worker thread');
  const init = workerData as WorkerInit;
  const post = (reply: WorkerReply): void => port.postMessage(reply);
  const detector = await loadDetector(init, post);
  if (detector === undefined) return;
  // Frames in progress; once retired, the worker exits when the last one ends (never mid-call).
  let running = 0;
  let retired = false;
  // Questions a job asked about the frames before it, answered by the pool. An answer is matched
  // by its type and job id, so each question gets the answer of its own kind.
  const asked = new Map<string, { resolve: (answer: JobAnswer) => void; reject: (err: Error) => void }>();
  const ask = <N extends JobAnswer['type']>(id: number, need: N): Promise<Extract<JobAnswer, { type: N }>> =>
    new Promise((resolve, reject) => {
      if (retired) return reject(new Error('de-id worker retired'));
      asked.set(`${need}:${id}`, { resolve: resolve as (answer: JobAnswer) => void, reject });
      post({ type: 'ask', id, need });
    });
  const ended = (): void => {
    running--;
    if (retired && running === 0) port.close();
  };
  const peerFor = (id: number): FaceScanPeer => ({
    signature: (signature) => post({ type: 'signature', id, signature }),
    report: (report) => post({ type: 'report', id, report }),
    reference: async () => (await ask(id, 'reference')).reference,
    context: async () => (await ask(id, 'context')).context,
    fill: async () => (await ask(id, 'fill')).fill,
  });
  const run = (job: JobRequest): void => {
    running++;
    const started = performance.now();
    const settled = redactImageSample(
      { encoding: job.encoding as SampleEncoding, schemaRef: job.schemaRef, data: job.data },
      { detector, params: init.params, plan: job.plan, peer: peerFor(job.id) },
    ).then(
      (out) => {
        // Copied, not transferred: sharp's output buffers are external memory that cannot be transferred.
        post({
          type: 'result',
          id: job.id,
          data: out.data,
          detections: out.detections,
          ...(out.faceScan === undefined ? {} : { faceScan: out.faceScan }),
          ms: performance.now() - started,
        });
      },
      (err: unknown) => post({ type: 'job-error', id: job.id, error: toWorkerError(err) }),
    );
    void settled.finally(ended);
  };
  port.on('message', (message: PoolMessage) => {
    if (message.type === 'job') return run(message);
    if (message.type === 'retire') {
      retired = true;
      for (const waiting of asked.values()) waiting.reject(new Error('de-id worker retired'));
      asked.clear();
      if (running === 0) port.close();
      return;
    }
    const key = `${message.type}:${message.id}`;
    asked.get(key)?.resolve(message);
    asked.delete(key);
  });
  post({ type: 'ready' });
}

void serve();
