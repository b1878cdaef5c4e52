// Entry point the registry imports lazily: `driver: zmq`.
import type { Logger } from 'pino';
import type { ZmqDriverStream } from '../stream-config.ts';
import type { Driver } from '../types.ts';
import { ZmqDriver } from './driver.ts';

export { ZmqDriver, defaultReceiveHighWaterMark, type ZmqDriverOptions } from './driver.ts';
export {
  encodeFrame,
  parseFrame,
  type FrameParseError,
  type ParsedFrame,
  type ZmqFrameHeader,
} from './frame.ts';
export { SeqGapTracker } from './seq-gap.ts';

/** One driver for streams sharing an endpoint, socket kind and bind flag (the registry groups them). */
export function createDriver(streams: readonly ZmqDriverStream[], deps: { log: Logger }): Driver {
  return new ZmqDriver({ streams, log: deps.log });
}
