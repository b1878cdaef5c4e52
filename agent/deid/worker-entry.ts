// Where every de-id worker thread starts: it lowers its own CPU priority, then runs the worker
// proper (`workerData.entry`). When the CPU is short, the threads that receive and write samples
// then win it, and de-id drops frames (counted) instead of the writer falling behind on every stream.
import { workerData } from 'node:worker_threads';
import { lowerThreadPriority } from './thread-priority.ts';

const { entry, niceness } = workerData as { entry: string; niceness: number };
lowerThreadPriority(niceness);
await import(entry);
