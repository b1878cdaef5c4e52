// Samples that carry images ↔ RGB frames. ROS 2 messages are CDR, read and written with the
// sensor_msgs definitions, so every field other than the pixels comes back unchanged.
import { MessageReader, MessageWriter } from '@foxglove/rosmsg2-serialization';
import { ros2humble } from '@foxglove/rosmsg-msgs-common';
import sharp from 'sharp';
import type { Sample } from '../../drivers/types.ts';
import { RigcapError } from '../errors.ts';
import type { RgbFrame } from './frame.ts';

export const compressedImageType = 'sensor_msgs/msg/CompressedImage';
export const rawImageType = 'sensor_msgs/msg/Image';

interface RosTime {
  sec: number;
  nanosec: number;
}
interface RosHeader {
  stamp: RosTime;
  frame_id: string;
}
interface CompressedImageMessage {
  header: RosHeader;
  format: string;
  data: Uint8Array;
}
interface ImageMessage {
  header: RosHeader;
  height: number;
  width: number;
  encoding: string;
  is_bigendian: number;
  step: number;
  data: Uint8Array;
}

type MessageDefinitions = ConstructorParameters<typeof MessageWriter>[0];

function definitionsFor(root: 'sensor_msgs/CompressedImage' | 'sensor_msgs/Image'): MessageDefinitions {
  return [ros2humble[root], ros2humble['std_msgs/Header']];
}
const compressedReader = new MessageReader<CompressedImageMessage>(
  definitionsFor('sensor_msgs/CompressedImage'),
);
const compressedWriter = new MessageWriter(definitionsFor('sensor_msgs/CompressedImage'));
const imageReader = new MessageReader<ImageMessage>(definitionsFor('sensor_msgs/Image'));
const imageWriter = new MessageWriter(definitionsFor('sensor_msgs/Image'));

/** A decoded image and the way back to a payload of the same kind. */
export interface DecodedImage {
  readonly frame: RgbFrame;
  /** Re-encodes (blurred) pixels of the same size into the sample's original format. */
  encode(frame: RgbFrame): Promise<Uint8Array>;
}

/** Whether a sample carries an image that de-identification must see. */
export function isImageSample(sample: Pick<Sample, 'encoding' | 'schemaRef'>): boolean {
  return (
    sample.encoding === 'jpeg' ||
    sample.encoding === 'png' ||
    sample.schemaRef === compressedImageType ||
    sample.schemaRef === rawImageType
  );
}

/** Decodes an image sample; throws IMAGE_UNSUPPORTED for formats it cannot re-encode faithfully. */
export async function decodeImageSample(
  sample: Pick<Sample, 'encoding' | 'schemaRef' | 'data'>,
  options: { jpegQuality: number },
): Promise<DecodedImage> {
  if (sample.encoding === 'jpeg' || sample.encoding === 'png')
    return decodeCompressedBytes(sample.data, options);
  if (sample.encoding !== 'cdr') throw unsupported(`image sample with encoding '${sample.encoding}'`);
  if (sample.schemaRef === compressedImageType) {
    const msg = compressedReader.readMessage(sample.data);
    const inner = await decodeCompressedBytes(msg.data, options);
    return {
      frame: inner.frame,
      encode: async (frame) => compressedWriter.writeMessage({ ...msg, data: await inner.encode(frame) }),
    };
  }
  if (sample.schemaRef === rawImageType) {
    const msg = imageReader.readMessage(sample.data);
    return decodeRawImage(msg);
  }
  throw unsupported(`schema '${sample.schemaRef}'`);
}

async function decodeCompressedBytes(
  bytes: Uint8Array,
  options: { jpegQuality: number },
): Promise<DecodedImage> {
  const isJpeg = bytes[0] === 0xff && bytes[1] === 0xd8;
  const isPng = bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47;
  if (!isJpeg && !isPng) throw unsupported('compressed image that is neither JPEG nor PNG');
  // Read once, top to bottom: the whole image is wanted as raw pixels.
  const { data, info } = await sharp(bytes, { sequentialRead: true })
    .removeAlpha()
    .toColourspace('srgb')
    .raw()
    .toBuffer({ resolveWithObject: true });
  const frame: RgbFrame = { width: info.width, height: info.height, data };
  return {
    frame,
    encode: async (out) => {
      const img = sharp(out.data, { raw: { width: out.width, height: out.height, channels: 3 } });
      const buf = isJpeg
        ? await img.jpeg({ quality: options.jpegQuality }).toBuffer()
        : await img.png().toBuffer();
      return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
    },
  };
}

function decodeRawImage(msg: ImageMessage): DecodedImage {
  const { width, height, step } = msg;
  const bgr = msg.encoding === 'bgr8';
  if (msg.encoding !== 'rgb8' && !bgr)
    throw unsupported(`Image encoding '${msg.encoding}' (rgb8 and bgr8 are handled)`);
  if (step < width * 3 || msg.data.length < step * height)
    throw unsupported(`Image of ${width}x${height} with step ${step} and ${msg.data.length} bytes`);
  const rgb = new Uint8Array(width * height * 3);
  copyRows(msg.data, step, rgb, width * 3, { width, height, swap: bgr });
  return {
    frame: { width, height, data: rgb },
    encode: async (out) => {
      // Row padding past width*3 keeps its original bytes.
      const data = Uint8Array.from(msg.data);
      copyRows(out.data, width * 3, data, step, { width, height, swap: bgr });
      return imageWriter.writeMessage({ ...msg, data });
    },
  };
}

/** Copies `height` rows of `width` pixels between buffers of different strides, swapping R/B when asked. */
function copyRows(
  src: Uint8Array,
  srcStep: number,
  dst: Uint8Array,
  dstStep: number,
  o: { width: number; height: number; swap: boolean },
): void {
  for (let y = 0; y < o.height; y++) {
    let s = y * srcStep;
    let d = y * dstStep;
    if (!o.swap) {
      dst.set(src.subarray(s, s + o.width * 3), d);
      continue;
    }
    for (let x = 0; x < o.width; x++, s += 3, d += 3) {
      dst[d] = src[s + 2]!;
      dst[d + 1] = src[s + 1]!;
      dst[d + 2] = src[s]!;
    }
  }
}

function unsupported(what: string): RigcapError {
  return new RigcapError('RIGCAP_DEID_IMAGE_UNSUPPORTED', `cannot de-identify ${what}`);
}
