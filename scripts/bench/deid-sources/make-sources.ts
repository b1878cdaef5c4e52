// Copies the photos the synthetic de-id video is built from out of Debian's packages (see
// SOURCES.md): faces cut to head and shoulders, backgrounds whole, all as JPEG.
// Usage: node scripts/bench/deid-sources/make-sources.ts SOURCES_DIR
import { join } from 'node:path';
import sharp from 'sharp';

const sourcesDir = process.argv[2];
if (sourcesDir === undefined) throw new Error('usage: make-sources.ts SOURCES_DIR');
const outDir = new URL('.', import.meta.url).pathname;

/** Face photos and the head-and-shoulders rectangle kept from each (left, top, width, height). */
const faces = [
  { file: 'astronaut.png', out: 'face-astronaut.jpg', crop: [88, 0, 272, 300] },
  { file: 'camera.png', out: 'face-camera.jpg', crop: [123, 67, 192, 222] },
  { file: 'grace_hopper.jpg', out: 'face-grace-hopper.jpg', crop: [12, 0, 500, 530] },
] as const;
const backgrounds = [
  ['motorcycle_left.png', 'bg-motorcycle-left.jpg'],
  ['motorcycle_right.png', 'bg-motorcycle-right.jpg'],
  ['china.jpg', 'bg-china.jpg'],
  ['coffee.png', 'bg-coffee.jpg'],
  ['rocket.jpg', 'bg-rocket.jpg'],
  ['flower.jpg', 'bg-flower.jpg'],
  ['chelsea.png', 'bg-chelsea.jpg'],
] as const;

for (const f of faces) {
  const [left, top, width, height] = f.crop;
  await sharp(join(sourcesDir, f.file))
    .extract({ left, top, width, height })
    .toColourspace('srgb')
    .removeAlpha()
    .jpeg({ quality: 92 })
    .toFile(join(outDir, f.out));
}
for (const [file, out] of backgrounds)
  await sharp(join(sourcesDir, file))
    .toColourspace('srgb')
    .removeAlpha()
    .jpeg({ quality: 90 })
    .toFile(join(outDir, out));
