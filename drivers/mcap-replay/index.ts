// Entry point the registry imports lazily: `driver: mcap-replay`.
import type { Logger } from 'pino';
import type { McapReplayDriverStream } from '../stream-config.ts';
import type { Driver } from '../types.ts';
import { McapReplayDriver } from './driver.ts';

export { McapReplayDriver, type McapReplayDriverOptions } from './driver.ts';
export { mcapDecompressHandlers } from './decompress.ts';

/** One driver per file and speed (the registry groups streams). */
export function createDriver(streams: readonly McapReplayDriverStream[], deps: { log: Logger }): Driver {
  return new McapReplayDriver({ streams, log: deps.log });
}
