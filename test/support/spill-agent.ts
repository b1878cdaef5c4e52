// One camera replayed from a synthetic recording at its recorded rate, through an Agent whose de-id
// is the slow stand-in worker: the set-up of the spill-mode tests (in-process and kill -9 child).
import { join } from 'node:path';
import { Agent } from '../../agent/agent.ts';
import { parseConfig } from '../../agent/config/load.ts';
import type { Logger } from '../../agent/log.ts';

export const slowDeidWorker = new URL('../integration/deid/workers/slow-blur-worker.ts', import.meta.url);

/** An Agent (not started) capturing `bag`'s camera into `<dir>/spool` with the given de-id config. */
export function spillAgent(options: {
  dir: string;
  bag: string;
  deid: Record<string, unknown>;
  log: Logger;
  /** The camera's capture queue (default 8 frames). */
  queueSize?: number;
}): Agent {
  const { config, digest } = parseConfig(
    JSON.stringify({
      version: 1,
      rig: { id: 'spill-rig' },
      spool: { dir: join(options.dir, 'spool') },
      keys: { dir: join(options.dir, 'secrets') },
      streams: [
        {
          name: 'front',
          driver: 'mcap-replay',
          file: options.bag,
          speed: 'recorded',
          topic: '/camera/front/image/compressed',
          sourceTopic: '/camera/front/image/compressed',
          type: 'sensor_msgs/msg/CompressedImage',
          encoding: 'cdr',
          queue: { size: options.queueSize ?? 8, maxBytes: '8MiB', dropPolicy: 'drop-oldest' },
          maxMessageBytes: '1MiB',
        },
      ],
      chunking: { maxDurationMs: 500 },
      timesync: { chrony: false, ptp: false },
      ops: { listen: '', heartbeatIntervalMs: 3_600_000 },
      deid: { workers: 1, maxPending: 1, ...options.deid },
    }),
    { baseDir: options.dir },
  );
  return new Agent({ config, configDigest: digest, log: options.log, deidWorkerUrl: slowDeidWorker });
}
