// A de-id worker that stands in for a slow detector: each job takes RIGCAP_TEST_DEID_DELAY_MS
// (default 40 ms) and answers `BLURRED` + the SHA-256 of the input, with one face and one plate, so
// the self-test passes and a test can tell every blurred frame apart from its original bytes.
import { createHash } from 'node:crypto';
import { parentPort } from 'node:worker_threads';
import type { PoolMessage, WorkerReply } from '../../../../agent/deid/worker-protocol.ts';

const delayMs = Number(process.env['RIGCAP_TEST_DEID_DELAY_MS'] ?? '40');
const sleeper = new Int32Array(new SharedArrayBuffer(4));
const post = (reply: WorkerReply): void => parentPort?.postMessage(reply);

/** The bytes the stand-in "blur" turns a frame into. */
function fakeBlurred(data: Uint8Array): Uint8Array {
  return Buffer.concat([Buffer.from('BLURRED'), createHash('sha256').update(data).digest()]);
}

parentPort?.on('message', (message: PoolMessage) => {
  // Retired: it holds no frame between messages, so it leaves at once, as a real worker would.
  if (message.type === 'retire') return parentPort?.close();
  if (message.type !== 'job') return;
  // Blocks the thread as inference would (it takes no other job meanwhile), without spending CPU.
  Atomics.wait(sleeper, 0, 0, delayMs);
  post({
    type: 'result',
    id: message.id,
    data: fakeBlurred(message.data),
    detections: [
      { kind: 'face', box: { x: 1, y: 1, w: 4, h: 4 }, score: 0.9 },
      { kind: 'plate', box: { x: 8, y: 8, w: 8, h: 4 }, score: 0.9 },
    ],
    ms: delayMs,
  });
});
post({ type: 'ready' });
