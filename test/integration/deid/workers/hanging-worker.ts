// A de-id worker that loads nothing and never answers a job: stands in for an inference that hangs.
import { parentPort } from 'node:worker_threads';

parentPort?.on('message', () => {
  // Busy forever, as a stuck native inference would be; only terminate() ends it.
  for (;;) {
    /* spin */
  }
});
parentPort?.postMessage({ type: 'ready' });
