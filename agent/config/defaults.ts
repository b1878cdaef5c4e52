// Defaults for streams that are not in the config file: topics found on the ROS graph at run time.
import type { StreamConfig } from './types.ts';

/** The config a discovered topic records under: the schema defaults of a ros2 stream. */
export function discoveredStreamConfig(
  sample: { readonly stream: string; readonly topic: string; readonly schemaRef: string },
  options: { latched: boolean },
): StreamConfig {
  return {
    name: sample.stream,
    driver: 'ros2',
    topic: sample.topic,
    type: sample.schemaRef,
    encoding: 'cdr',
    queue: { size: 256, maxBytes: 64 * 1024 * 1024, dropPolicy: 'drop-oldest' },
    latched: options.latched,
    maxMessageBytes: 32 * 1024 * 1024,
    priority: 5,
    deid: { exempt: false, onBackpressure: 'drop' },
    headerTime: false,
    qos: { reliability: 'auto', durability: 'auto', depth: 10 },
  };
}
