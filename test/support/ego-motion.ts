// Synthetic camera motion for de-id tests: a still picture seen through a camera that zooms,
// rotates and pans a little every frame, with sensor noise, encoded as JPEG like a camera's.
import sharp from 'sharp';
import type { RgbFrame } from '../../agent/deid/frame.ts';
import type { DetectionKind, PixelBox } from '../../agent/deid/geometry.ts';
import { identityAffine, invertAffine, thenAffine, warpBox, type Affine } from '../../agent/deid/affine.ts';

/** One frame's motion relative to the frame before it, about the frame's centre. */
export interface CameraStep {
  /** Scale factor (1.01 = zoom in by 1 %). */
  readonly zoom: number;
  /** Rotation in degrees (positive = content turns clockwise on screen). */
  readonly rotateDeg: number;
  /** Content shift in frame pixels. */
  readonly panPx: { readonly x: number; readonly y: number };
}

/** The step as a map from the previous frame's pixels to this frame's. */
export function stepAffine(step: CameraStep, frame: { width: number; height: number }): Affine {
  const th = (step.rotateDeg * Math.PI) / 180;
  const a = step.zoom * Math.cos(th);
  const d = step.zoom * Math.sin(th);
  const cx = frame.width / 2;
  const cy = frame.height / 2;
  // Rotate and scale about the centre, then pan.
  return {
    a,
    b: -d,
    c: cx - a * cx + d * cy + step.panPx.x,
    d,
    e: a,
    f: cy - d * cx - a * cy + step.panPx.y,
  };
}

/** A deterministic pseudo-random source (mulberry32). */
export function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `source` seen through `view` (source pixels → frame pixels), bilinear, edges repeated, with noise. */
export function renderView(
  source: RgbFrame,
  view: Affine,
  o: { width: number; height: number; noise: number; random: () => number },
): RgbFrame {
  const inv = invertAffine(view);
  const out = new Uint8Array(o.width * o.height * 3);
  const { width: sw, height: sh, data } = source;
  // Noise from a small table: one random draw per pixel would dominate the cost.
  const table = Float32Array.from(
    { length: 4096 },
    () => (o.random() + o.random() + o.random() - 1.5) * 2 * o.noise,
  );
  let k = Math.floor(o.random() * 4096);
  for (let y = 0; y < o.height; y++) {
    let sx = inv.a * 0 + inv.b * y + inv.c;
    let sy = inv.d * 0 + inv.e * y + inv.f;
    for (let x = 0; x < o.width; x++, sx += inv.a, sy += inv.d) {
      const cx = Math.min(sw - 1.001, Math.max(0, sx));
      const cy = Math.min(sh - 1.001, Math.max(0, sy));
      const x0 = Math.floor(cx);
      const y0 = Math.floor(cy);
      const fx = cx - x0;
      const fy = cy - y0;
      const i00 = (y0 * sw + x0) * 3;
      const i10 = i00 + 3;
      const i01 = i00 + sw * 3;
      const i11 = i01 + 3;
      const o3 = (y * o.width + x) * 3;
      for (let ch = 0; ch < 3; ch++) {
        const v =
          (data[i00 + ch]! * (1 - fx) + data[i10 + ch]! * fx) * (1 - fy) +
          (data[i01 + ch]! * (1 - fx) + data[i11 + ch]! * fx) * fy;
        out[o3 + ch] = v + table[k++ & 4095]!;
      }
      k += 7;
    }
  }
  return { width: o.width, height: o.height, data: out };
}

/** One frame of a moving-camera clip and where its labels are in it. */
export interface MovingFrame {
  readonly jpeg: Uint8Array;
  readonly frame: RgbFrame;
  /** Source pixels → this frame's pixels. */
  readonly view: Affine;
  readonly labels: ReadonlyArray<{ kind: DetectionKind; box: PixelBox }>;
}

/** Decodes a JPEG or PNG into RGB. */
export async function decodeRgb(bytes: Uint8Array): Promise<RgbFrame> {
  const { data, info } = await sharp(bytes).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return {
    width: info.width,
    height: info.height,
    data: new Uint8Array(data.buffer, data.byteOffset, data.length),
  };
}

/**
 * A clip of `steps.length + 1` frames of `source` (frame = source size unless given): the first
 * frame shows the source as it is, each later one moves the camera by its step.
 */
export async function movingClip(o: {
  source: RgbFrame;
  labels?: ReadonlyArray<{ kind: DetectionKind; box: PixelBox }>;
  steps: readonly CameraStep[];
  noise?: number;
  seed?: number;
  jpegQuality?: number;
  encode?: boolean;
}): Promise<MovingFrame[]> {
  const size = { width: o.source.width, height: o.source.height };
  const random = seeded(o.seed ?? 1);
  const frames: MovingFrame[] = [];
  let view = identityAffine;
  for (let t = 0; t <= o.steps.length; t++) {
    if (t > 0) view = thenAffine(view, stepAffine(o.steps[t - 1]!, size));
    const frame = renderView(o.source, view, { ...size, noise: o.noise ?? 2, random });
    const jpeg =
      o.encode === false
        ? new Uint8Array(0)
        : new Uint8Array(
            await sharp(frame.data, { raw: { ...size, channels: 3 } })
              .jpeg({ quality: o.jpegQuality ?? 85 })
              .toBuffer(),
          );
    const labels = (o.labels ?? []).map((l) => ({ kind: l.kind, box: warpBox(view, l.box) }));
    frames.push({ jpeg, frame, view, labels });
  }
  return frames;
}

/** A camera that wanders: slow zoom in and out, a little roll, a pan that turns, per frame. */
export function wanderingSteps(count: number, o: { seed?: number; scale?: number } = {}): CameraStep[] {
  const random = seeded(o.seed ?? 7);
  const k = o.scale ?? 1;
  const steps: CameraStep[] = [];
  for (let t = 0; t < count; t++) {
    const phase = (t / Math.max(1, count)) * 2 * Math.PI;
    steps.push({
      zoom: 1 + k * 0.006 * Math.sin(phase * 1.5) + (random() - 0.5) * 0.002 * k,
      rotateDeg: k * 0.25 * Math.cos(phase) + (random() - 0.5) * 0.1 * k,
      panPx: {
        x: k * 6 * Math.cos(phase * 0.7) + (random() - 0.5) * 2 * k,
        y: k * 3 * Math.sin(phase) + (random() - 0.5) * 2 * k,
      },
    });
  }
  return steps;
}
