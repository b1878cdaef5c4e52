import { MessageReader, MessageWriter } from '@foxglove/rosmsg2-serialization';
import { ros2humble } from '@foxglove/rosmsg-msgs-common';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { blurBoxes } from '../../../agent/deid/blur.ts';
import type { RgbFrame } from '../../../agent/deid/frame.ts';
import { decodeImageSample } from '../../../agent/deid/image-codec.ts';

const compressedDefs = [ros2humble['sensor_msgs/CompressedImage'], ros2humble['std_msgs/Header']];
const imageDefs = [ros2humble['sensor_msgs/Image'], ros2humble['std_msgs/Header']];

/** A textured test frame: high-frequency checkerboard so a blur visibly changes it. */
function checkerFrame(width: number, height: number, block = 2): RgbFrame {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const v = (Math.floor(x / block) + Math.floor(y / block)) % 2 === 0 ? 230 : 20;
      data.set([v, (x * 3) % 256, 255 - v], (y * width + x) * 3);
    }
  }
  return { width, height, data };
}

function meanAbsDiff(a: RgbFrame, b: RgbFrame, box: { x: number; y: number; w: number; h: number }): number {
  let sum = 0;
  for (let y = box.y; y < box.y + box.h; y++) {
    for (let x = box.x; x < box.x + box.w; x++) {
      for (let c = 0; c < 3; c++)
        sum += Math.abs(a.data[(y * a.width + x) * 3 + c]! - b.data[(y * b.width + x) * 3 + c]!);
    }
  }
  return sum / (box.w * box.h * 3);
}

describe('blur', () => {
  for (const kind of ['gaussian', 'pixelate'] as const) {
    it(`${kind}: changes pixels inside the box and none far outside`, async () => {
      const frame = checkerFrame(200, 120);
      const box = { x: 60, y: 30, w: 40, h: 40 };
      const out = await blurBoxes(frame, [box], { kind, marginRatio: 0.1 });
      expect(meanAbsDiff(frame, out, box)).toBeGreaterThan(40);
      // Margin is 4 px: 10 px away from the box nothing may change.
      expect(meanAbsDiff(frame, out, { x: 0, y: 0, w: 50, h: 120 })).toBe(0);
      expect(meanAbsDiff(frame, out, { x: 110, y: 0, w: 90, h: 120 })).toBe(0);
    });
  }
});

describe('ROS image CDR round trip', () => {
  const header = { stamp: { sec: 1_700_000_123, nanosec: 456_789 }, frame_id: 'cam_front_optical' };

  it('CompressedImage: header and format unchanged, JPEG pixels replaced', async () => {
    // Coarse blocks survive JPEG; a 2 px checker would be smeared by the codec alone.
    const frame = checkerFrame(160, 96, 8);
    const jpeg = await sharp(frame.data, { raw: { width: 160, height: 96, channels: 3 } })
      .jpeg({ quality: 95 })
      .toBuffer();
    const data = new MessageWriter(compressedDefs).writeMessage({
      header,
      format: 'rgb8; jpeg compressed bgr8',
      data: jpeg,
    });
    const decoded = await decodeImageSample(
      { encoding: 'cdr', schemaRef: 'sensor_msgs/msg/CompressedImage', data },
      { jpegQuality: 90 },
    );
    expect([decoded.frame.width, decoded.frame.height]).toEqual([160, 96]);
    const blurred = await blurBoxes(decoded.frame, [{ x: 40, y: 20, w: 40, h: 40 }], {
      kind: 'gaussian',
      marginRatio: 0,
    });
    const out = await decoded.encode(blurred);
    const msg = new MessageReader<{ header: unknown; format: string; data: Uint8Array }>(
      compressedDefs,
    ).readMessage(out);
    expect(msg.header).toEqual(header);
    expect(msg.format).toBe('rgb8; jpeg compressed bgr8');
    expect([msg.data[0], msg.data[1]]).toEqual([0xff, 0xd8]);
    const back = await sharp(msg.data).raw().toBuffer({ resolveWithObject: true });
    const backFrame = { width: back.info.width, height: back.info.height, data: back.data };
    const inside = meanAbsDiff(decoded.frame, backFrame, { x: 45, y: 25, w: 30, h: 30 });
    const farOutside = meanAbsDiff(decoded.frame, backFrame, { x: 110, y: 20, w: 40, h: 60 });
    // JPEG re-encoding moves every pixel a little; the blurred box moves far more.
    expect(inside).toBeGreaterThan(15);
    expect(inside).toBeGreaterThan(3 * farOutside);
  });

  it('Image bgr8 with row padding: every field and the padding kept, only box pixels change', async () => {
    const width = 64;
    const height = 40;
    const step = width * 3 + 8;
    const pixels = new Uint8Array(step * height);
    const rgb = checkerFrame(width, height);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const s = (y * width + x) * 3;
        pixels.set([rgb.data[s + 2]!, rgb.data[s + 1]!, rgb.data[s]!], y * step + x * 3);
      }
      pixels.fill(0xab, y * step + width * 3, (y + 1) * step);
    }
    const original = { header, height, width, encoding: 'bgr8', is_bigendian: 0, step, data: pixels };
    const data = new MessageWriter(imageDefs).writeMessage(original);
    const decoded = await decodeImageSample(
      { encoding: 'cdr', schemaRef: 'sensor_msgs/msg/Image', data },
      { jpegQuality: 90 },
    );
    // bgr8 came out as RGB.
    expect(Array.from(decoded.frame.data.subarray(0, 3))).toEqual(Array.from(rgb.data.subarray(0, 3)));
    const blurred = await blurBoxes(decoded.frame, [{ x: 20, y: 10, w: 20, h: 20 }], {
      kind: 'pixelate',
      marginRatio: 0,
    });
    const msg = new MessageReader<typeof original>(imageDefs).readMessage(await decoded.encode(blurred));
    expect({ ...msg, data: undefined }).toEqual({ ...original, data: undefined });
    for (let y = 0; y < height; y++)
      expect(
        Array.from(msg.data.subarray(y * step + width * 3, (y + 1) * step)).every((b) => b === 0xab),
      ).toBe(true);
    // Outside the box the bytes are identical (raw images are not re-compressed).
    expect(Array.from(msg.data.subarray(0, step * 5))).toEqual(Array.from(pixels.subarray(0, step * 5)));
    expect(Array.from(msg.data.subarray(step * 15 + 60, step * 15 + 90))).not.toEqual(
      Array.from(pixels.subarray(step * 15 + 60, step * 15 + 90)),
    );
  });

  it('refuses image encodings it cannot re-encode', async () => {
    const data = new MessageWriter(imageDefs).writeMessage({
      header,
      height: 2,
      width: 2,
      encoding: 'bayer_rggb8',
      is_bigendian: 0,
      step: 2,
      data: new Uint8Array(4),
    });
    await expect(
      decodeImageSample({ encoding: 'cdr', schemaRef: 'sensor_msgs/msg/Image', data }, { jpegQuality: 90 }),
    ).rejects.toMatchObject({ code: 'RIGCAP_DEID_IMAGE_UNSUPPORTED' });
  });
});
