// Worker thread entry: loads the verified models once, then redacts images on request.
import { parentPort, workerData } from 'node:worker_threads';
import type { SampleEncoding } from '../../drivers/types.ts';
import { isRigcapError } from '../errors.ts';
import { FrameDetector } from './detector.ts';
import { redactImageSample } from './redact.ts';
import type { JobRequest, WorkerError, WorkerInit, WorkerReply } from './worker-protocol.ts';

function toWorkerError(err: unknown): WorkerError {
  return isRigcapError(err) ? { code: err.code, message: err.message } : { code: 'RIGCAP_DEID_INFERENCE', message: String(err) };
}

async function serve(): Promise<void> {
  const port = parentPort;
  if (port === null) throw new Error('worker.ts must run as a worker thread');
  const init = workerData as WorkerInit;
  const post = (reply: WorkerReply, transfer: ArrayBuffer[] = []): void => port.postMessage(reply, transfer);
  let detector: FrameDetector;
  try {
    detector = await FrameDetector.load({ specs: init.specs, params: init.params, intraOpThreads: init.intraOpThreads });
  } catch (err) {
    post({ type: 'init-error', error: toWorkerError(err) });
    return;
  }
  port.on('message', (job: JobRequest) => {
    const started = performance.now();
    redactImageSample({ encoding: job.encoding as SampleEncoding, schemaRef: job.schemaRef, data: job.data }, { detector, params: init.params }).then(
      (out) => {
        // Transfer only a buffer this job owns outright, never a view into a shared pool.
        const owned = out.data.byteOffset === 0 && out.data.byteLength === out.data.buffer.byteLength;
        const data = owned ? out.data : Uint8Array.from(out.data);
        post({ type: 'result', id: job.id, data, detections: out.detections, ms: performance.now() - started }, [data.buffer as ArrayBuffer]);
      },
      (err: unknown) => post({ type: 'job-error', id: job.id, error: toWorkerError(err) }),
    );
  });
  post({ type: 'ready' });
}

void serve();
