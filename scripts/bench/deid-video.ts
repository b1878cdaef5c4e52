// A deterministic synthetic 1080p camera video with ground truth, for measuring de-identification
// on motion a vehicle camera sees: the camera zooms (drives forward), rolls, pans; a foreground layer
// of people and vehicles moves differently from the background (parallax); sensor noise on every
// frame, motion blur on some. Faces are real photos, plates are rendered (several formats, fonts,
// angles up to 30°, night and dirty plates, posts in front of some).
//
// Two disjoint sets: `tuning` (for choosing thresholds, tile scales and motion reuse) and
// `evaluation` (for the figures). They share no source photo, seed or motion path; see
// scripts/bench/deid-sources/SOURCES.md.
//
// Usage: node scripts/bench/deid-video.ts --set tuning|evaluation [--frames N] --out DIR
//   writes DIR/frame-000001.jpg … and DIR/labels.json.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { mipLevels, toRaster } from './deid-plates.ts';
import { noiseTable, rng, type MipSprite, type Point, type Raster } from './deid-raster.ts';
import { lineKernel, makeSegment, renderFrame } from './deid-scene.ts';

export type DeidSetName = 'tuning' | 'evaluation';
export const deidSetNames: readonly DeidSetName[] = ['tuning', 'evaluation'];

/** A face photo and the face's square box in it (brow to chin, as the face model frames it). */
export interface FaceSource {
  readonly file: string;
  readonly box: readonly [number, number, number, number];
}

/** What one set is made of. Sets never share a file. */
export interface DeidSetSpec {
  readonly name: DeidSetName;
  readonly seed: number;
  readonly faces: readonly FaceSource[];
  readonly backgrounds: readonly string[];
}

export const deidSets: Readonly<Record<DeidSetName, DeidSetSpec>> = {
  tuning: {
    name: 'tuning',
    seed: 0x7a11,
    faces: [
      { file: 'face-astronaut.jpg', box: [84, 73, 105, 105] },
      { file: 'face-camera.jpg', box: [59, 59, 74, 74] },
    ],
    backgrounds: ['bg-motorcycle-left.jpg', 'bg-china.jpg', 'bg-coffee.jpg', 'bg-motorcycle-right.jpg'],
  },
  evaluation: {
    name: 'evaluation',
    seed: 0xe7a1,
    faces: [{ file: 'face-grace-hopper.jpg', box: [157, 139, 196, 196] }],
    backgrounds: ['bg-rocket.jpg', 'bg-flower.jpg', 'bg-chelsea.jpg'],
  },
};

export const deidSourcesDir = new URL('./deid-sources/', import.meta.url);

/** One labelled thing in a frame. */
export interface GroundTruth {
  readonly kind: 'face' | 'plate';
  /** Axis-aligned box around `quad` in the frame: [x, y, w, h]. */
  readonly box: readonly [number, number, number, number];
  /**
   * What must be blurred as drawn (rotated, foreshortened), four corners in order: the face square,
   * or a plate's registration characters (the plate's field and borders identify nobody).
   */
  readonly quad: readonly Point[];
  /** The part of `quad` hidden behind a post, or null. */
  readonly hidden: readonly Point[] | null;
  /** Size for recall buckets: face side or plate height in frame pixels, before rotation. */
  readonly sizePx: number;
  /** False when part of it is outside the frame: not counted. */
  readonly inFrame: boolean;
  /** How it was drawn: format, font, angle, night, grime, occluded, blur. */
  readonly tags: readonly string[];
}

export interface SyntheticFrame {
  readonly index: number;
  readonly segment: number;
  readonly width: number;
  readonly height: number;
  readonly jpeg: Uint8Array;
  readonly labels: readonly GroundTruth[];
  /** A frame of a segment with no face and no plate (for the over-blur figure). */
  readonly negative: boolean;
}

export interface DeidVideoOptions {
  readonly set: DeidSetName;
  /** Frames in all (default 180: four segments of 45, 12 s at 15 fps). */
  readonly frames?: number;
  readonly segmentFrames?: number;
  readonly width?: number;
  readonly height?: number;
  readonly jpegQuality?: number;
}

/** Streams the set's video frame by frame (the same bytes for the same options on every run). */
export async function* deidVideo(o: DeidVideoOptions): AsyncGenerator<SyntheticFrame> {
  const spec = deidSets[o.set];
  const frames = o.frames ?? 180;
  const segmentFrames = o.segmentFrames ?? 45;
  const width = o.width ?? 1920;
  const height = o.height ?? 1080;
  const noise = noiseTable(spec.seed);
  const faces = await Promise.all(spec.faces.map((f) => loadFace(f)));
  const backgrounds = new Map<string, Raster>();
  let index = 0;
  for (let s = 0; index < frames; s++) {
    const r = rng(spec.seed * 7919 + s * 104729);
    const bgFile = spec.backgrounds[s % spec.backgrounds.length]!;
    let bg = backgrounds.get(bgFile);
    if (bg === undefined) {
      bg = toRaster(
        await sharp(new URL(bgFile, deidSourcesDir).pathname)
          .removeAlpha()
          .raw()
          .toBuffer({ resolveWithObject: true }),
      );
      backgrounds.set(bgFile, bg);
    }
    // The third of every four segments is empty: over-blur is measured there.
    const negative = s % 4 === 2;
    const segment = await makeSegment({
      r,
      background: bg,
      faces,
      index: s,
      negative,
      width,
      height,
      frames: segmentFrames,
    });
    for (let t = 0; t < segmentFrames && index < frames; t++, index++) {
      const f = renderFrame(segment, t, { width, height, noise, noiseStart: Math.floor(r() * noise.length) });
      const blur = segment.blurAt(t);
      let img = sharp(f.raster.data, { raw: { width, height, channels: 3 } });
      if (blur !== null)
        img = sharp(await img.convolve(lineKernel(blur.length, blur.angle)).raw().toBuffer(), {
          raw: { width, height, channels: 3 },
        });
      const jpeg = await img.jpeg({ quality: o.jpegQuality ?? 85 }).toBuffer();
      const labels =
        blur === null ? f.labels : f.labels.map((l) => ({ ...l, tags: [...l.tags, 'motion-blur'] }));
      yield {
        index,
        segment: s,
        width,
        height,
        jpeg: new Uint8Array(jpeg.buffer, jpeg.byteOffset, jpeg.byteLength),
        labels,
        negative,
      };
    }
  }
}

/** The source files a set is built from (for the disjointness test). */
export function deidSetFiles(set: DeidSetName): string[] {
  const spec = deidSets[set];
  return [...spec.faces.map((f) => f.file), ...spec.backgrounds];
}

async function loadFace(
  src: FaceSource,
): Promise<{ mip: MipSprite; box: readonly [number, number, number, number] }> {
  const [fx, fy, fw, fh] = src.box;
  const path = new URL(src.file, deidSourcesDir).pathname;
  const meta = await sharp(path).metadata();
  // Head and shoulders: half a face around it, cut by a soft ellipse so no rectangle edge shows.
  const x0 = Math.max(0, Math.round(fx - fw * 0.5));
  const y0 = Math.max(0, Math.round(fy - fh * 0.5));
  const x1 = Math.min(meta.width ?? 0, Math.round(fx + fw * 1.5));
  const y1 = Math.min(meta.height ?? 0, Math.round(fy + fh * 1.6));
  const crop = await sharp(path)
    .extract({ left: x0, top: y0, width: x1 - x0, height: y1 - y0 })
    .removeAlpha()
    .ensureAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  const raster = toRaster(crop);
  const cx = raster.width / 2;
  const cy = raster.height / 2;
  for (let y = 0; y < raster.height; y++)
    for (let x = 0; x < raster.width; x++) {
      const d = Math.hypot((x + 0.5 - cx) / cx, (y + 0.5 - cy) / cy);
      raster.data[(y * raster.width + x) * 4 + 3] =
        d < 0.8 ? 255 : d > 1 ? 0 : Math.round(((1 - d) / 0.2) * 255);
    }
  return { mip: await mipLevels(raster), box: [fx - x0, fy - y0, fw, fh] };
}

/** CLI: writes a set's frames as JPEG files and their labels. */
async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { set: { type: 'string' }, frames: { type: 'string' }, out: { type: 'string' } },
  });
  const set = values.set as DeidSetName | undefined;
  if (set === undefined || !deidSetNames.includes(set) || values.out === undefined)
    throw new Error('usage: deid-video.ts --set tuning|evaluation [--frames N] --out DIR');
  const out = values.out;
  await mkdir(out, { recursive: true });
  const labels: Array<{ file: string; segment: number; negative: boolean; labels: readonly GroundTruth[] }> =
    [];
  for await (const f of deidVideo({
    set,
    ...(values.frames === undefined ? {} : { frames: Number(values.frames) }),
  })) {
    const file = `frame-${String(f.index + 1).padStart(6, '0')}.jpg`;
    await writeFile(join(out, file), f.jpeg);
    labels.push({ file, segment: f.segment, negative: f.negative, labels: f.labels });
    process.stderr.write(`\r${set}: frame ${f.index + 1}`);
  }
  process.stderr.write('\n');
  await writeFile(
    join(out, 'labels.json'),
    `${JSON.stringify({ set, width: 1920, height: 1080, frames: labels }, null, 1)}\n`,
  );
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
