// Where every de-id worker thread starts: it runs the worker proper (`workerData.entry`) and lowers
// its own CPU priority when the pool says so, once the worker is ready. Models load and warm up at
// normal priority (a slow start on a busy CPU would fail the start-up bound); frames are then
// blurred behind the threads that receive and write samples, so when the CPU is short de-id drops
// frames (counted) instead of the writer falling behind on every stream.
import { parentPort, workerData } from 'node:worker_threads';
import { lowerThreadPriority } from './thread-priority.ts';

/** Pool → worker-entry: lower this thread's priority by `niceness` (sent once, after `ready`). */
export interface PriorityMessage {
  readonly type: 'priority';
  readonly niceness: number;
}

parentPort?.on('message', (message: { type?: unknown; niceness?: unknown }) => {
  if (message.type === 'priority' && typeof message.niceness === 'number')
    lowerThreadPriority(message.niceness);
});
await import((workerData as { entry: string }).entry);
