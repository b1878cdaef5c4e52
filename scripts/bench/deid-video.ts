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
import {
  plateFormats,
  registration,
  renderPlate,
  strokeFonts,
  mipLevels,
  toRaster,
  type PlateSprite,
} from './deid-plates.ts';
import {
  addNoise,
  apply,
  compose,
  noiseTable,
  pickLevel,
  rng,
  scaleOf,
  similarity,
  warpInto,
  type Affine,
  type MipSprite,
  type Point,
  type Raster,
  type Tone,
} from './deid-raster.ts';

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

interface Sprite {
  readonly kind: 'face' | 'plate';
  readonly mip: MipSprite;
  /** What must be blurred, in level-0 sprite pixels: the face box, or the plate's characters. */
  readonly rect: readonly [number, number, number, number];
  /** The height that names its size (face side, plate height) in level-0 sprite pixels. */
  readonly sizeRef: number;
  readonly occluder: readonly [number, number, number, number] | null;
  /** Level-0 sprite pixels → foreground world coordinates. */
  readonly place: Affine;
  readonly tone: Tone;
  readonly tags: readonly string[];
  /** Own motion per frame in world pixels (a walking person, a passing car). */
  readonly drift: Point;
}

interface Segment {
  readonly background: Raster;
  readonly sprites: readonly Sprite[];
  readonly night: boolean;
  readonly noiseSigma: number;
  /** Camera: background layer pose per frame t (source pixels → frame). */
  readonly bgPose: (t: number) => Affine;
  /** Foreground layer pose per frame t (world → frame). */
  readonly fgPose: (t: number) => Affine;
  /** Frames with motion blur, and the blur's length and direction. */
  readonly blurAt: (t: number) => { length: number; angle: number } | null;
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

/** A value in [lo, hi). */
function between(r: () => number, lo: number, hi: number): number {
  return lo + (hi - lo) * r();
}

function pick<T>(r: () => number, items: readonly T[]): T {
  return items[Math.floor(r() * items.length)]!;
}

/** Face sizes (px at the segment's start): mostly the hard small sizes, some large. */
const faceSizes = [18, 21, 23, 26, 28, 30, 34, 40, 52, 70, 100, 150] as const;
/** Plate heights (px at the segment's start). */
const plateSizes = [16, 20, 26, 32, 38, 42, 48, 56, 70, 90] as const;

async function makeSegment(o: {
  r: () => number;
  background: Raster;
  faces: ReadonlyArray<{ mip: MipSprite; box: readonly [number, number, number, number] }>;
  /** The segment's number in the video. */
  index: number;
  negative: boolean;
  width: number;
  height: number;
  frames: number;
}): Promise<Segment> {
  const { r, width, height } = o;
  // Both sets get the same mix of conditions (only the draws within them differ): of every four
  // segments the second is at night and the third is empty.
  const night = o.index % 4 === 1;
  const noiseSigma = night ? between(r, 5, 8) : between(r, 1.5, 4);
  // Background: covers the frame with room to pan and roll, then the camera drives forward (zoom),
  // rolls a little, and pans; the foreground is closer, so it zooms and pans faster, plus its own path.
  const bgBase = Math.max(width / o.background.width, height / o.background.height) * 1.35;
  const zoomRate = between(r, -0.002, 0.006);
  const rollAmp = (between(r, 1, 4) * Math.PI) / 180;
  const rollFreq = between(r, 0.05, 0.15);
  const rollPhase = between(r, 0, Math.PI * 2);
  const pan: Point = [between(r, -9, 9), between(r, -2.5, 2.5)];
  const shake = between(r, 0.5, 2.5);
  const shakePhase = between(r, 0, 100);
  const parallax = between(r, 1.3, 2.2);
  const fgPan: Point = [pan[0] * parallax + between(r, -3, 3), pan[1] * parallax + between(r, -1, 1)];
  const fgZoomRate = zoomRate * parallax;
  const roll = (t: number): number => rollAmp * Math.sin(rollFreq * t + rollPhase);
  const jitter = (t: number): Point => [
    shake * Math.sin(1.7 * t + shakePhase),
    shake * Math.cos(2.3 * t + shakePhase),
  ];
  // Both layers turn about the frame centre.
  const about = (s: number, rad: number, shift: Point, content: Point): Affine => {
    const m = similarity(s, rad, 0, 0);
    const c = apply(m, content);
    return [m[0], m[1], width / 2 + shift[0] - c[0], m[3], m[4], height / 2 + shift[1] - c[1]];
  };
  const bgCentre: Point = [o.background.width / 2, o.background.height / 2];
  const bgPose = (t: number): Affine => {
    const j = jitter(t);
    return about(bgBase * (1 + zoomRate * t), roll(t), [pan[0] * t + j[0], pan[1] * t + j[1]], bgCentre);
  };
  const fgPose = (t: number): Affine => {
    const j = jitter(t);
    return about(
      1 + fgZoomRate * t,
      roll(t),
      [fgPan[0] * t + j[0], fgPan[1] * t + j[1]],
      [width / 2, height / 2],
    );
  };
  const blurFrames = new Map<number, { length: number; angle: number }>();
  for (let t = 0; t < o.frames; t++) {
    if (r() < 0.18) {
      const v = Math.hypot(fgPan[0], fgPan[1]);
      blurFrames.set(t, {
        length: Math.max(3, Math.min(11, Math.round(v * between(r, 0.6, 1.2)))),
        angle: Math.atan2(fgPan[1], fgPan[0]),
      });
    }
  }
  const sprites: Sprite[] = [];
  if (!o.negative) {
    // One thing per cell of a 4 x 3 grid laid over the frame (with a margin the motion brings into
    // view), so no two overlap and every label stays exact.
    const cols = 4;
    const rows = 3;
    const mx = width * 0.12;
    const my = height * 0.08;
    const cw = (width + 2 * mx) / cols;
    const ch = (height + 2 * my) / rows;
    // The foreground moves; shift the grid back by half the segment's drift so things stay in view.
    const drift: Point = [(-fgPan[0] * o.frames) / 2, (-fgPan[1] * o.frames) / 2];
    let placed = 0;
    for (let cell = 0; cell < cols * rows; cell++) {
      if (r() < 0.2) continue;
      const cellX = -mx + (cell % cols) * cw + drift[0];
      const cellY = -my + Math.floor(cell / cols) * ch + drift[1];
      // Faces and plates alternate; formats, fonts and sizes go round their lists, so each set has all of them.
      const k = placed++;
      const sprite =
        (k + o.index) % 2 === 0
          ? makeFaceSprite(r, o.faces, night)
          : await makePlateSprite(r, night, o.index * 5 + (k >> 1));
      // Fit in its cell: the largest size the cell allows caps the drawn size.
      const level0 = sprite.mip.levels[0]!.raster;
      const turn = o.index * 7 + (k >> 1);
      const want =
        sprite.kind === 'face' ? faceSizes[turn % faceSizes.length]! : plateSizes[turn % plateSizes.length]!;
      const fit = Math.min((cw * 0.8) / level0.width, (ch * 0.8) / level0.height);
      const s = Math.min(want / sprite.sizeRef, fit);
      const angle = sprite.angle;
      const shear = sprite.yaw;
      // Local: centre the sprite, foreshorten (yaw), roll, scale, move into the cell.
      const centre: Affine = [1, 0, -level0.width / 2, 0, 1, -level0.height / 2];
      const yawM: Affine = [Math.cos(shear), 0, 0, Math.sin(shear) * 0.12, 1, 0];
      const rot = similarity(
        s,
        angle,
        cellX + cw * between(r, 0.35, 0.65),
        cellY + ch * between(r, 0.35, 0.65),
      );
      const place = compose(rot, compose(yawM, centre));
      sprites.push({
        ...sprite,
        place,
        drift:
          sprite.kind === 'face' ? [between(r, -1.5, 1.5), between(r, -0.3, 0.3)] : [between(r, -4, 4), 0],
      });
    }
  }
  return {
    background: o.background,
    sprites,
    night,
    noiseSigma,
    bgPose,
    fgPose,
    blurAt: (t) => blurFrames.get(t) ?? null,
  };
}

type SpriteDraft = Omit<Sprite, 'place' | 'drift'> & { angle: number; yaw: number };

function makeFaceSprite(
  r: () => number,
  faces: ReadonlyArray<{ mip: MipSprite; box: readonly [number, number, number, number] }>,
  night: boolean,
): SpriteDraft {
  const face = pick(r, faces);
  const angle = (between(r, -15, 15) * Math.PI) / 180;
  const gain = night ? between(r, 0.3, 0.5) : between(r, 0.75, 1.15);
  const tags = [`roll:${Math.round((angle * 180) / Math.PI)}`, ...(night ? ['night'] : [])];
  return {
    kind: 'face',
    mip: face.mip,
    rect: face.box,
    sizeRef: face.box[3],
    occluder: null,
    tone: { gain, offset: night ? 4 : 0, contrast: night ? 0.8 : 1 },
    tags,
    angle,
    yaw: 0,
  };
}

async function makePlateSprite(r: () => number, night: boolean, turn: number): Promise<SpriteDraft> {
  const format = plateFormats[turn % plateFormats.length]!;
  const font = strokeFonts[(turn * 3 + (turn >> 2)) % strokeFonts.length]!;
  const text = format.rows.map((row) => registration(row.chars, r));
  text.push(
    format.caption
      ? pick(r, ['OREGON', 'TEXAS', 'OHIO', 'NEVADA', 'MAINE'])
      : pick(r, ['D', 'F', 'NL', 'B', 'A']),
  );
  const occlusion = r() < 0.2 ? between(r, 0.08, 0.25) : 0;
  const grime = r() < 0.25 ? between(r, 0.4, 1) : 0;
  const angleDeg = r() < 0.5 ? between(r, -30, 30) : between(r, -6, 6);
  const yawDeg = r() < 0.4 ? between(r, 10, 45) : 0;
  const rendered: PlateSprite = await renderPlate(
    { format, font, text, occlusion, occluderAt: between(r, 0.2, 0.8), grime },
    96,
  );
  const gain = night ? between(r, 0.25, 0.45) : between(r, 0.8, 1.1);
  const contrast = night ? between(r, 0.5, 0.8) : grime > 0 ? 0.8 : 1;
  const tags = [
    `format:${format.name}`,
    `font:${font.name}`,
    `roll:${Math.round(angleDeg)}`,
    ...(yawDeg > 0 ? [`yaw:${Math.round(yawDeg)}`] : []),
    ...(night ? ['night'] : []),
    ...(grime > 0 ? ['low-contrast'] : []),
    ...(occlusion > 0 ? ['occluded'] : []),
  ];
  return {
    kind: 'plate',
    mip: rendered.sprite,
    rect: rendered.text,
    sizeRef: rendered.plate[3],
    occluder: rendered.occluder,
    tone: { gain, offset: night ? 6 : 0, contrast },
    tags,
    angle: (angleDeg * Math.PI) / 180,
    yaw: (yawDeg * Math.PI) / 180,
  };
}

function corners(rect: readonly [number, number, number, number]): Point[] {
  const [x, y, w, h] = rect;
  return [
    [x, y],
    [x + w, y],
    [x + w, y + h],
    [x, y + h],
  ];
}

function renderFrame(
  seg: Segment,
  t: number,
  o: { width: number; height: number; noise: Float32Array; noiseStart: number },
): { raster: Raster; labels: GroundTruth[] } {
  const raster: Raster = {
    width: o.width,
    height: o.height,
    channels: 3,
    data: new Uint8Array(o.width * o.height * 3),
  };
  const bgTone: Tone = seg.night
    ? { gain: 0.3, offset: 3, contrast: 0.85 }
    : { gain: 1, offset: 0, contrast: 1 };
  warpInto(raster, seg.background, seg.bgPose(t), bgTone);
  const fg = seg.fgPose(t);
  const labels: GroundTruth[] = [];
  for (const sp of seg.sprites) {
    const m = compose(fg, compose([1, 0, sp.drift[0] * t, 0, 1, sp.drift[1] * t], sp.place));
    const level = pickLevel(sp.mip, m);
    warpInto(raster, level.raster, level.m, sp.tone);
    // Pixel centres: level-0 pixel (u, v) covers [u, u+1); its edge sits at u - 0.5 in warp coordinates.
    const edge = compose(m, [1, 0, -0.5, 0, 1, -0.5]);
    const quad = corners(sp.rect).map((p) => apply(edge, p));
    const xs = quad.map((p) => p[0]);
    const ys = quad.map((p) => p[1]);
    const box: [number, number, number, number] = [
      Math.min(...xs),
      Math.min(...ys),
      Math.max(...xs) - Math.min(...xs),
      Math.max(...ys) - Math.min(...ys),
    ];
    const inFrame = box[0] >= 0 && box[1] >= 0 && box[0] + box[2] <= o.width && box[1] + box[3] <= o.height;
    let hidden: Point[] | null = null;
    if (sp.occluder !== null) {
      const [, py, , ph] = sp.rect;
      const [ox, , ow] = sp.occluder;
      hidden = corners([ox, py, ow, ph]).map((p) => apply(edge, p));
    }
    const round2 = (v: number): number => Math.round(v * 100) / 100;
    labels.push({
      kind: sp.kind,
      box: box.map(round2) as unknown as [number, number, number, number],
      quad: quad.map((p) => [round2(p[0]), round2(p[1])] as const),
      hidden: hidden === null ? null : hidden.map((p) => [round2(p[0]), round2(p[1])] as const),
      sizePx: round2(sp.sizeRef * scaleOf(m)),
      inFrame,
      tags: sp.tags,
    });
  }
  addNoise(raster, o.noise, seg.noiseSigma, o.noiseStart);
  return { raster, labels };
}

/** A normalised line of `length` px at `angle` as a convolution kernel (linear motion blur). */
function lineKernel(length: number, angle: number): { width: number; height: number; kernel: number[] } {
  const size = length % 2 === 1 ? length : length + 1;
  const kernel = new Array<number>(size * size).fill(0);
  const c = (size - 1) / 2;
  for (let i = 0; i < length * 4; i++) {
    const s = (i / (length * 4 - 1) - 0.5) * (length - 1);
    const x = Math.round(c + s * Math.cos(angle));
    const y = Math.round(c + s * Math.sin(angle));
    kernel[y * size + x] = 1;
  }
  const sum = kernel.reduce((a, b) => a + b, 0);
  return { width: size, height: size, kernel: kernel.map((v) => v / sum) };
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
