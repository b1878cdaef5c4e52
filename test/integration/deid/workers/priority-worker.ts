// A de-id worker that answers every job with its own thread's nice value (one byte, offset by 20).
import { getPriority } from 'node:os';
import { parentPort } from 'node:worker_threads';
import { currentThreadId } from '../../../../agent/deid/thread-priority.ts';
import type { PoolMessage, WorkerReply } from '../../../../agent/deid/worker-protocol.ts';

const post = (reply: WorkerReply): void => parentPort?.postMessage(reply);
parentPort?.on('message', (message: PoolMessage) => {
  if (message.type !== 'job') return;
  const nice = getPriority(currentThreadId() ?? 0);
  post({ type: 'result', id: message.id, data: new Uint8Array([nice + 20]), detections: [], ms: 0 });
});
post({ type: 'ready' });
