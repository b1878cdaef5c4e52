// A de-id worker whose jobs with a plan ask for their context first (as a frame whose predecessor
// is still in flight does) and answer only once they have it; jobs without a plan answer at once.
import { parentPort } from 'node:worker_threads';
import type { PoolMessage, WorkerReply } from '../../../../agent/deid/worker-protocol.ts';

const post = (reply: WorkerReply): void => parentPort?.postMessage(reply);
const result = (id: number): void =>
  post({ type: 'result', id, data: new Uint8Array([id]), detections: [], ms: 0 });

parentPort?.on('message', (message: PoolMessage) => {
  if (message.type === 'job') {
    if (message.plan === undefined) result(message.id);
    else post({ type: 'ask', id: message.id, need: 'context' });
  } else if (message.type === 'context') {
    result(message.id);
  }
});
post({ type: 'ready' });
