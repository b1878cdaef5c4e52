// Licence plates via a DB (differentiable binarisation) text detector, PP-OCRv4 det by default:
// probability map → binary mask → connected regions → boxes expanded as PaddleOCR's DBPostProcess
// "unclip" does → kept when their size and aspect look like a plate. Plate text is never read.
import type { InferenceSession } from 'onnxruntime-node';
import { Tensor } from 'onnxruntime-node';
import { RigcapError } from '../errors.ts';
import type { RgbFrame } from './frame.ts';
import { boxArea, clipBox, type Detection, type PixelBox } from './geometry.ts';
import type { LoadedModel } from './models.ts';
import type { DeidParams } from './params.ts';
import { resizeRgb } from './resample.ts';

// PaddleOCR feeds BGR images normalised with ImageNet mean/std applied in channel order.
const mean = [0.485, 0.456, 0.406] as const;
const std = [0.229, 0.224, 0.225] as const;
/** Pixels above this probability are text (PaddleOCR's `det_db_thresh`). */
const binaryThreshold = 0.3;
/** PaddleOCR's `det_db_unclip_ratio`: the map marks shrunk text kernels, so boxes grow back. */
const unclipRatio = 1.5;

/** Finds plate-like text regions with a DB text detector. */
export class DbPlateDetector {
  readonly #session: InferenceSession;
  readonly #inputName: string;
  readonly #outputName: string;
  readonly #params: DeidParams;
  readonly #maxSide: number;

  constructor(options: LoadedModel) {
    this.#session = options.session;
    this.#params = options.params;
    this.#maxSide = options.inputSize;
    const inputName = options.session.inputNames[0];
    const outputName = options.session.outputNames[0];
    if (inputName === undefined || outputName === undefined) {
      throw new RigcapError(
        'RIGCAP_DEID_MODEL_INVALID',
        `model '${options.modelName}' needs one image input and one probability-map output`,
      );
    }
    this.#inputName = inputName;
    this.#outputName = outputName;
  }

  /**
   * Plate boxes in frame pixels. With `within`, only those places are looked at (each grown by a
   * margin, at the scale the whole frame would be), unless they add up to most of the frame.
   */
  async detect(frame: RgbFrame, options: { within?: readonly PixelBox[] } = {}): Promise<Detection[]> {
    const scale = Math.min(1, this.#maxSide / Math.max(frame.width, frame.height));
    const whole = { x: 0, y: 0, w: frame.width, h: frame.height };
    const grown = (options.within ?? [whole]).map((r) =>
      clipBox(
        {
          x: r.x - placeMarginPx,
          y: r.y - placeMarginPx,
          w: r.w + 2 * placeMarginPx,
          h: r.h + 2 * placeMarginPx,
        },
        frame,
      ),
    );
    const share = grown.reduce((sum, r) => sum + boxArea(r), 0) / boxArea(whole);
    const places = share > 0.5 ? [whole] : grown.filter((r) => r.w > 0 && r.h > 0);
    const out: Detection[] = [];
    for (const place of places) out.push(...(await this.#detectIn(frame, place, scale)));
    return out;
  }

  async #detectIn(frame: RgbFrame, place: PixelBox, scale: number): Promise<Detection[]> {
    const w = Math.max(32, Math.round((place.w * scale) / 32) * 32);
    const h = Math.max(32, Math.round((place.h * scale) / 32) * 32);
    const image = place.w === frame.width && place.h === frame.height ? frame : cropRgb(frame, place);
    const { data: pixels } = await resizeRgb(image, w, h);
    const input = new Float32Array(3 * w * h);
    const plane = w * h;
    for (let i = 0; i < plane; i++) {
      const p = i * 3;
      // Channel 0 gets B, 2 gets R: the model was trained on OpenCV's BGR order.
      input[i] = (pixels[p + 2]! / 255 - mean[0]) / std[0];
      input[plane + i] = (pixels[p + 1]! / 255 - mean[1]) / std[1];
      input[2 * plane + i] = (pixels[p]! / 255 - mean[2]) / std[2];
    }
    const outputs = await this.#session.run({
      [this.#inputName]: new Tensor('float32', input, [1, 3, h, w]),
    });
    const map = outputs[this.#outputName];
    if (map === undefined)
      throw new RigcapError('RIGCAP_DEID_INFERENCE', 'text detector returned no probability map');
    const dims = map.dims;
    const mapH = dims[2] ?? 0;
    const mapW = dims[3] ?? 0;
    if (mapW <= 0 || mapH <= 0)
      throw new RigcapError(
        'RIGCAP_DEID_INFERENCE',
        `text detector returned a map of shape [${dims.join(',')}]`,
      );
    const sx = place.w / mapW;
    const sy = place.h / mapH;
    const out: Detection[] = [];
    for (const region of textRegions(map.data as Float32Array, mapW, mapH, {
      minScore: this.#params.plateThreshold,
    })) {
      const d = (region.w * region.h * unclipRatio) / (2 * (region.w + region.h));
      const box = {
        x: place.x + (region.x - d) * sx,
        y: place.y + (region.y - d) * sy,
        w: (region.w + 2 * d) * sx,
        h: (region.h + 2 * d) * sy,
      };
      if (!looksLikePlate(box, frame, this.#params)) continue;
      out.push({ kind: 'plate', score: region.score, box });
    }
    return out;
  }
}

/** A changed place is looked at with this much around it (frame pixels): a plate cut by the crop is missed. */
const placeMarginPx = 64;

/** A rectangle of the frame as its own image (rows copied, no resampling). */
function cropRgb(frame: RgbFrame, place: PixelBox): RgbFrame {
  const data = new Uint8Array(place.w * place.h * 3);
  for (let y = 0; y < place.h; y++) {
    const src = ((place.y + y) * frame.width + place.x) * 3;
    data.set(frame.data.subarray(src, src + place.w * 3), y * place.w * 3);
  }
  return { width: place.w, height: place.h, data };
}

/** Plates are wider than tall, at least a few pixels high, and never a large share of the frame. */
function looksLikePlate(
  box: { w: number; h: number },
  frame: { width: number; height: number },
  params: DeidParams,
): boolean {
  const aspect = box.w / box.h;
  return (
    box.h >= 6 &&
    box.h <= frame.height * 0.25 &&
    box.w <= frame.width * 0.5 &&
    aspect >= params.plateAspectMin &&
    aspect <= params.plateAspectMax
  );
}

/** One connected region of the binarised map: bounding box in map pixels and mean probability. */
interface TextRegion {
  x: number;
  y: number;
  w: number;
  h: number;
  score: number;
}

/** Connected regions (4-neighbour) of `prob > 0.3` whose mean probability reaches `minScore`. */
export function textRegions(
  prob: Float32Array,
  width: number,
  height: number,
  options: { minScore: number },
): TextRegion[] {
  const label = new Int32Array(width * height);
  const stack: number[] = [];
  const regions: TextRegion[] = [];
  let next = 1;
  for (let start = 0; start < prob.length; start++) {
    if (label[start] !== 0 || !(prob[start]! > binaryThreshold)) continue;
    label[start] = next;
    stack.push(start);
    let x0 = width;
    let y0 = height;
    let x1 = -1;
    let y1 = -1;
    let sum = 0;
    let count = 0;
    while (stack.length > 0) {
      const i = stack.pop()!;
      const x = i % width;
      const y = (i - x) / width;
      sum += prob[i]!;
      count++;
      if (x < x0) x0 = x;
      if (x > x1) x1 = x;
      if (y < y0) y0 = y;
      if (y > y1) y1 = y;
      if (x > 0) visit(i - 1);
      if (x < width - 1) visit(i + 1);
      if (y > 0) visit(i - width);
      if (y < height - 1) visit(i + width);
    }
    next++;
    // Specks of one or two pixels are noise, as in PaddleOCR's min_size.
    if (count < 3 || x1 - x0 < 1 || y1 - y0 < 1) continue;
    const score = sum / count;
    if (score >= options.minScore) regions.push({ x: x0, y: y0, w: x1 - x0 + 1, h: y1 - y0 + 1, score });
  }
  return regions;

  function visit(j: number): void {
    if (label[j] === 0 && prob[j]! > binaryThreshold) {
      label[j] = next;
      stack.push(j);
    }
  }
}
