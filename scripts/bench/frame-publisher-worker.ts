// The sensor side of the capture and msgrate benches, on its own thread as a real publisher is in
// its own process: sends `count` rigcap ZeroMQ messages over PUSH, cycling through `payloads`.
// With a window, it keeps at most `window` messages ahead of what the receiver reported done (a
// shared counter), so a throughput run measures the receiver, not how a full queue drops.
import { parentPort, workerData } from 'node:worker_threads';
import { Push } from 'zeromq';
import { encodeFrame } from '../../drivers/zmq/frame.ts';

/** What the worker is started with (structured-cloned). */
export interface PublisherWorkerData {
  endpoint: string;
  topic: string;
  type: string;
  encoding: string;
  payloads: Uint8Array[];
  count: number;
  /** Messages allowed ahead of done[0]; 0 = no limit. */
  window: number;
  /** Int32Array over a SharedArrayBuffer: [0] = messages the receiver has finished. */
  done: Int32Array;
}

const data = workerData as PublisherWorkerData;
const port = parentPort!;

async function publish(): Promise<void> {
  const push = new Push({ sendHighWaterMark: 1000, linger: 0 });
  push.connect(data.endpoint);
  // Start only when told, so the receiver side's clock starts with the first send.
  await new Promise<void>((resolve) => port.once('message', () => resolve()));
  const startNs = BigInt(Date.now()) * 1_000_000n;
  const t0 = process.hrtime.bigint();
  for (let seq = 0; seq < data.count; seq++) {
    if (data.window > 0) {
      // A plain timer, not Atomics.waitAsync: its wake-ups do not reliably reach a worker's loop.
      while (seq - Atomics.load(data.done, 0) >= data.window) await new Promise((r) => setTimeout(r, 1));
    }
    const captureNs = startNs + (process.hrtime.bigint() - t0);
    await push.send(
      encodeFrame(
        data.topic,
        { seq, captureNs, encoding: data.encoding, type: data.type, latched: false },
        data.payloads[seq % data.payloads.length]!,
      ),
    );
  }
  port.postMessage({ sent: data.count });
  // Hold the socket open until the receiver has everything (linger 0 would drop queued sends).
  await new Promise<void>((resolve) => port.once('message', () => resolve()));
  push.close();
  // Exit by running out of work: terminating a thread with a live ZeroMQ socket aborts the process.
  port.close();
}

void publish().catch((err: unknown) => {
  port.postMessage({ error: err instanceof Error ? err.message : String(err) });
});
