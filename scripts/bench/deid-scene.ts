// The scenes of the synthetic de-id video: a segment's camera path (zoom, roll, pan, shake, parallax
// between background and foreground), which frames get motion blur, the faces and plates placed
// on a grid, and one frame drawn with its ground truth. Deterministic: every draw comes from the
// segment's own seeded source, in a fixed order.
import { plateFormats, registration, renderPlate, strokeFonts, type PlateSprite } from './deid-plates.ts';
import {
  addNoise,
  apply,
  compose,
  pickLevel,
  scaleOf,
  similarity,
  warpInto,
  type Affine,
  type MipSprite,
  type Point,
  type Raster,
  type Tone,
} from './deid-raster.ts';
import type { GroundTruth } from './deid-video.ts';

/** A face photo cut out as a sprite, with the face's box in it. */
export interface FaceMip {
  mip: MipSprite;
  box: readonly [number, number, number, number];
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

/** A segment as drawn: background, sprites, and camera and layer poses per frame. */
export interface Segment {
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

/** What a segment is drawn from; `r` is its own seeded random source, read in a fixed order. */
export interface SegmentInput {
  r: () => number;
  background: Raster;
  faces: readonly FaceMip[];
  /** The segment's number in the video. */
  index: number;
  negative: boolean;
  width: number;
  height: number;
  frames: number;
}

/** One segment of the video: its camera path, motion-blurred frames and placed sprites. */
export async function makeSegment(o: SegmentInput): Promise<Segment> {
  const { r } = o;
  // Both sets get the same mix of conditions (only the draws within them differ): of every four
  // segments the second is at night and the third is empty.
  const night = o.index % 4 === 1;
  const noiseSigma = night ? between(r, 5, 8) : between(r, 1.5, 4);
  const { bgPose, fgPose, fgPan } = cameraPath(o);
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
  const sprites = o.negative ? [] : await placeSprites(o, { night, fgPan });
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

/**
 * Background: covers the frame with room to pan and roll, then the camera drives forward (zoom),
 * rolls a little, and pans; the foreground is closer, so it zooms and pans faster, plus its own path.
 */
function cameraPath(o: SegmentInput): Pick<Segment, 'bgPose' | 'fgPose'> & { fgPan: Point } {
  const { r, width, height } = o;
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
  return { bgPose, fgPose, fgPan };
}

/**
 * One thing per cell of a 4 x 3 grid laid over the frame (with a margin the motion brings into
 * view), so no two overlap and every label stays exact.
 */
async function placeSprites(o: SegmentInput, seg: { night: boolean; fgPan: Point }): Promise<Sprite[]> {
  const { r, width, height } = o;
  const { night, fgPan } = seg;
  const sprites: Sprite[] = [];
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
      drift: sprite.kind === 'face' ? [between(r, -1.5, 1.5), between(r, -0.3, 0.3)] : [between(r, -4, 4), 0],
    });
  }
  return sprites;
}

type SpriteDraft = Omit<Sprite, 'place' | 'drift'> & { angle: number; yaw: number };

function makeFaceSprite(r: () => number, faces: readonly FaceMip[], night: boolean): SpriteDraft {
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

/** Draws frame t of a segment and the ground truth of every sprite in it. */
export function renderFrame(
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
    const [bx, by, bw, bh] = box;
    labels.push({
      kind: sp.kind,
      box: [round2(bx), round2(by), round2(bw), round2(bh)],
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
export function lineKernel(
  length: number,
  angle: number,
): { width: number; height: number; kernel: number[] } {
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
