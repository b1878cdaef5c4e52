import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { fillCrop } from '../../../agent/deid/resample.ts';

/** A 400×300 frame with smooth gradients and a few hard edges. */
function testFrame(): { width: number; height: number; data: Uint8Array } {
  const width = 400;
  const height = 300;
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      data[i] = (x * 255) / width;
      data[i + 1] = (y * 255) / height;
      data[i + 2] = (x >> 5) % 2 === (y >> 5) % 2 ? 200 : 40;
    }
  return { width, height, data };
}

describe('fillCrop', () => {
  const frame = testFrame();
  for (const [name, region, out] of [
    ['enlarges', { left: 50, top: 40, right: 146, bottom: 136 }, 256],
    ['shrinks', { left: 0, top: 0, right: 384, bottom: 288 }, 96],
  ] as const) {
    it(`${name} a region as sharp's linear resize does, within a few grey levels, and leaves the rest black`, async () => {
      const tilePx = out + 8;
      const input = new Float32Array(tilePx * tilePx * 3);
      fillCrop(input, frame, region, { w: out, h: out }, { x: 8, y: 8 }, tilePx);
      const expected = await sharp(frame.data, {
        raw: { width: frame.width, height: frame.height, channels: 3 },
      })
        .extract({
          left: region.left,
          top: region.top,
          width: region.right - region.left,
          height: region.bottom - region.top,
        })
        .resize(out, out, { fit: 'fill', kernel: 'linear' })
        .raw()
        .toBuffer();
      let diff = 0;
      for (let y = 0; y < out; y++)
        for (let x = 0; x < out * 3; x++)
          diff += Math.abs((input[((y + 8) * tilePx + 8) * 3 + x]! + 1) * 127.5 - expected[y * out * 3 + x]!);
      expect(diff / (out * out * 3)).toBeLessThan(3);
      expect(input[0]).toBe(-1);
      expect(input[(7 * tilePx + 7) * 3]).toBe(-1);
    });
  }
});
