// A de-id worker whose inference always throws, as onnxruntime does on a bad tensor.
import { parentPort } from 'node:worker_threads';

parentPort?.on('message', (job: { id: number }) => {
  parentPort?.postMessage({
    type: 'job-error',
    id: job.id,
    error: { code: 'RIGCAP_DEID_INFERENCE', message: 'onnxruntime: invalid input tensor' },
  });
});
parentPort?.postMessage({ type: 'ready' });
