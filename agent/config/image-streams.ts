// Which streams carry camera images and so must pass de-identification before they are written.
import type { StreamConfig } from './types.ts';

const imageTypes = new Set([
  'sensor_msgs/msg/CompressedImage',
  'sensor_msgs/msg/Image',
  'sensor_msgs/CompressedImage',
  'sensor_msgs/Image',
]);

/** True when the stream's messages are images (by ROS type or raw image encoding). */
export function isImageStream(stream: Pick<StreamConfig, 'type' | 'encoding'>): boolean {
  return (
    imageTypes.has(stream.type) ||
    stream.encoding === 'jpeg' ||
    stream.encoding === 'raw-rgb8' ||
    stream.encoding === 'raw-bgr8'
  );
}
