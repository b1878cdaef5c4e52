// A still JPEG seen through a camera that pans: content moves 2 px right and 1 px down per step, the
// edge repeated. For tests that need consecutive frames of one stream; the de-id bench uses the
// synthetic video in scripts/bench/deid-video.ts instead.
import sharp from 'sharp';

/** Pixels the picture moves per step (right and down). */
const panPx = { x: 2, y: 1 } as const;

/** The picture moved by `t` pan steps, re-encoded as JPEG. */
export async function shifted(jpeg: Uint8Array, t: number): Promise<Uint8Array> {
  const meta = await sharp(jpeg).metadata();
  const dx = panPx.x * t;
  const dy = panPx.y * t;
  // Two pipelines: within one, sharp would crop before extending.
  const moved = await sharp(jpeg)
    .extend({ left: dx, top: dy, extendWith: 'copy' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  const buf = await sharp(moved.data, {
    raw: { width: moved.info.width, height: moved.info.height, channels: moved.info.channels },
  })
    .extract({ left: 0, top: 0, width: meta.width, height: meta.height })
    .jpeg({ quality: 82 })
    .toBuffer();
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}
