// MediaPipe BlazeFace on a tile pyramid, with a second look at every candidate. Decoding follows the model's anchor layout: a 16×16 grid
// with 2 anchors per cell and an 8×8 grid with 6, every anchor centred in its cell with unit size,
// box offsets in input pixels (keijiro/BlazeFaceBarracuda, Postprocess1Kernel.hlsl).
import type { InferenceSession } from 'onnxruntime-node';
import { Tensor } from 'onnxruntime-node';
import { RigcapError } from '../errors.ts';
import type { RgbFrame } from './frame.ts';
import {
  askPeer,
  type FaceScanContext,
  type FaceScanPeer,
  type FaceScanPlan,
  type FaceScanReport,
  type FaceVerdict,
  type FrameSignature,
} from './face-scan.ts';
import { dilateBox, iou, mergeDetections, type Detection, type PixelBox } from './geometry.ts';
import type { LoadedModel } from './models.ts';
import type { DeidParams } from './params.ts';
import { fillCrop, resizeRgb } from './resample.ts';
import { planFaceTiles, type TileLevel } from './tiling.ts';

/** The score/box output pair of one anchor grid. */
interface AnchorGrid {
  readonly scores: string;
  readonly boxes: string;
  readonly cells: number;
  readonly anchorsPerCell: number;
}

/** Anchor count → grid geometry for the two BlazeFace output heads. */
const gridByAnchorCount = new Map<number, { cells: number; anchorsPerCell: number }>([
  [512, { cells: 16, anchorsPerCell: 2 }],
  [384, { cells: 8, anchorsPerCell: 6 }],
]);

// Maps a byte to [-1, 1] without a division per pixel.
const normalise = Float32Array.from({ length: 256 }, (_, v) => v / 127.5 - 1);

/** Faces at least this high (frame px) are seen by the coarse levels, which run on every frame. */
const coarseVisiblePx = 64;

/** A hit this strong where a face was confirmed a moment ago confirms it again. */
const trackScore = 0.2;

/** One model input buffer and the tensor over it. */
interface ModelInput {
  readonly data: Float32Array;
  readonly tensor: Tensor;
}

/** A frame's tile pass: its thumbnail, how it compared with the previous frame, and the raw hits. */
export interface TileScan {
  readonly signature: FrameSignature;
  /** The previous frame's thumbnail aligned to this one; null when there was none to compare. */
  readonly reference: FrameSignature | null;
  readonly full: boolean;
  readonly cut: boolean;
  readonly changed: boolean;
  readonly hits: readonly Detection[];
  readonly tilesScanned: number;
  readonly tilesTotal: number;
}

/** Faces found in one frame and what the scan did. */
export interface FaceScanResult {
  /** Confirmed faces and faces held from earlier frames, in frame pixels. */
  readonly detections: Detection[];
  readonly report: Omit<FaceScanReport, 'plates'>;
}

/**
 * Finds faces with a BlazeFace ONNX session in two stages: tiles of a pyramid give candidates at a
 * low score, and each candidate is re-run on a crop scaled so the face is `faceVerifyFacePx` high;
 * only candidates the model confirms there are kept. Recall is set by the first stage, false hits
 * are removed by the second.
 */
export class BlazeFaceDetector {
  readonly #session: InferenceSession;
  readonly #inputName: string;
  readonly #grids: AnchorGrid[];
  readonly #params: DeidParams;
  readonly #tilePx: number;
  #screen: BlazeFaceDetector | undefined;

  constructor(options: LoadedModel) {
    this.#session = options.session;
    this.#params = options.params;
    this.#tilePx = options.inputSize;
    const inputName = options.session.inputNames[0];
    if (inputName === undefined)
      throw new RigcapError('RIGCAP_DEID_MODEL_INVALID', `model '${options.modelName}' has no input`);
    this.#inputName = inputName;
    this.#grids = findGrids(options.session, options.modelName);
  }

  /** Face boxes in frame pixels, merged across tiles and scales (every tile, nothing known before). */
  async detect(frame: RgbFrame): Promise<Detection[]> {
    return (await this.confirm(frame, await this.scanTiles(frame), undefined, undefined)).detections;
  }

  /**
   * The first half of a scan: the frame's thumbnail, compared with the previous frame's, decides
   * which tiles run; their hits are the candidates. Nothing the earlier frames found is needed yet,
   * so a frame can get this far while the one before it is still being scanned.
   */
  async scanTiles(frame: RgbFrame, plan?: FaceScanPlan, peer?: FaceScanPeer): Promise<TileScan> {
    const p = this.#params;
    const levels = planFaceTiles(frame, {
      tilePx: this.#tilePx,
      scales: p.faceTileScales,
      overlapPx: p.faceTileOverlapPx,
    });
    const whole = levels.at(-1)!;
    const images = await levelImages(frame, levels);
    const signature = signatureOf(frame, images.at(-1)!);
    if (plan !== undefined) peer?.signature(signature);
    const earlier =
      plan === undefined ? null : plan.reference === 'ask' ? await askPeer(peer).reference() : plan.reference;
    const comparable =
      earlier !== null &&
      earlier.frameWidth === frame.width &&
      earlier.frameHeight === frame.height &&
      earlier.width === signature.width &&
      earlier.height === signature.height;
    // Compared after undoing the camera's own shift, a pan does not look like change everywhere.
    const reference = comparable ? aligned(earlier, signature) : null;
    const full =
      plan === undefined ||
      reference === null ||
      meanChange(signature, reference, { x: 0, y: 0, w: frame.width, h: frame.height }) >
        p.faceFrameChangeGrey;
    const changed =
      reference === null ||
      maxBlockChange(signature, reference, { x: 0, y: 0, w: frame.width, h: frame.height }) >
        p.faceTileChangeGrey;
    const input = this.#newInput();
    const hits: Detection[] = [];
    let tilesScanned = 0;
    let tilesTotal = 0;
    for (const [li, level] of levels.entries()) {
      const image = images[li]!;
      // Every level but the whole-frame pass is swept: the finest over the plan's frames, the
      // coarser ones (a few tiles, large faces that move more) over faceCoarseSweepFrames.
      const swept = !full && level !== whole && plan !== undefined;
      const sweep =
        plan === undefined || li === 0
          ? plan?.sweep
          : { phase: plan.sweep.phase % p.faceCoarseSweepFrames, of: p.faceCoarseSweepFrames };
      for (const [ti, tile] of level.tiles.entries()) {
        tilesTotal++;
        if (
          swept &&
          sweep !== undefined &&
          reference !== null &&
          !this.#mustScan(ti, toFrameBox(tile, level.scale), sweep, signature, reference)
        )
          continue;
        tilesScanned++;
        fillTile(input.data, image, tile, this.#tilePx);
        await this.#infer(input, {
          threshold: Math.min(trackScore, p.faceCandidateThreshold),
          toFrame: (x, y) => [(x + tile.x) / level.scale, (y + tile.y) / level.scale],
          pxToFrame: 1 / level.scale,
          into: hits,
        });
      }
    }
    // After a cut (the whole view changed) earlier faces and verdicts say nothing about this frame.
    const cut = comparable && full;
    return { signature, reference, full, cut, changed, hits, tilesScanned, tilesTotal };
  }

  /**
   * The second half: candidates from the tiles are verified (or settled by what the earlier frames
   * found), known small faces are followed, and faces confirmed a moment ago are held.
   */
  async confirm(
    frame: RgbFrame,
    scan: TileScan,
    plan: FaceScanPlan | undefined,
    context: FaceScanContext | undefined,
  ): Promise<FaceScanResult> {
    const p = this.#params;
    const { signature, reference, cut } = scan;
    const tracks = cut ? [] : (context?.tracks ?? []);
    const reusable = cut ? [] : (context?.verdicts ?? []);
    // A known face is followed down to a lower score than a new one needs to become a candidate.
    const candidates = mergeDetections(scan.hits, { iouThreshold: 0.3 }).filter(
      (c) => c.score >= p.faceCandidateThreshold || tracks.some((t) => iou(t.box, c.box) >= 0.3),
    );
    const input = this.#newInput();
    let screened = 0;
    const confirmed: Array<{ box: PixelBox; score: number }> = [];
    const verdicts: FaceVerdict[] = [];
    for (const c of candidates) {
      const known = tracks.some((t) => iou(t.box, c.box) >= 0.3);
      // A rejection holds only while the place looks the same: a face that walks into it is verified afresh.
      const unchanged =
        reference !== null && maxBlockChange(signature, reference, c.box) <= p.faceTileChangeGrey;
      const earlier = known
        ? undefined
        : reusable.find(
            (v) => iou(v.box, c.box) >= 0.5 && (v.face || (unchanged && c.score <= v.score + 0.1)),
          );
      let face: boolean;
      if (known) face = true;
      else if (earlier !== undefined) face = earlier.face;
      else {
        const verdict = await this.#verify(input, frame, c.box, p.faceVerifyFacePx);
        if (verdict.screened) screened++;
        face = verdict.score >= p.faceThreshold;
        verdicts.push({ box: c.box, score: c.score, face });
      }
      if (face) confirmed.push({ box: c.box, score: c.score });
    }
    // A small known face the tiles did not confirm (its tile was not due) is looked for again on a
    // crop around it at the verification scale: one inference instead of the tiles around it.
    // Every other frame is enough: in between, the held box (grown for motion) covers the face. Odd
    // frames, because the plate detector runs on even ones.
    let followed = 0;
    const follow = plan === undefined || plan.sweep.phase % 2 === 1;
    for (const t of follow ? tracks : []) {
      if (Math.max(t.box.w, t.box.h) >= coarseVisiblePx || confirmed.some((c) => iou(c.box, t.box) > 0.2))
        continue;
      followed++;
      const found = await this.#look(input, frame, t.box, p.faceVerifyFacePx);
      if (found !== undefined && found.score >= p.faceThreshold) confirmed.push(found);
    }
    const detections: Detection[] = confirmed.map((c) => ({ kind: 'face', box: c.box, score: c.score }));
    // A face confirmed a moment ago and not confirmed now (turned, blurred by motion) stays blurred.
    for (const t of tracks) {
      if (confirmed.some((c) => iou(c.box, t.box) > 0.2)) continue;
      detections.push({ kind: 'face', box: dilateBox(t.box, p.faceHoldMarginRatio, frame), score: t.score });
    }
    return {
      detections,
      report: {
        confirmed,
        verdicts,
        signature,
        full: scan.full,
        cut,
        changed: scan.changed,
        tilesScanned: scan.tilesScanned,
        tilesTotal: scan.tilesTotal,
        verifications: verdicts.length + followed,
        screened,
      },
    };
  }

  /** Whether a fine tile is due: its sweep turn, a known face near it, or its content changed. */
  #mustScan(
    index: number,
    tileInFrame: PixelBox,
    sweep: FaceScanPlan['sweep'],
    signature: FrameSignature,
    reference: FrameSignature,
  ): boolean {
    if (index % sweep.of === sweep.phase) return true;
    return maxBlockChange(signature, reference, tileInFrame) > this.#params.faceTileChangeGrey;
  }

  /** Candidates are first shown to `screen` (a cheaper model); what it scores far below a face is rejected. */
  screenWith(screen: BlazeFaceDetector): void {
    this.#screen = screen;
  }

  /** The best score this model gives a face at `box` on a crop where it is `facePx` high in the input. */
  async score(frame: RgbFrame, box: PixelBox, facePx: number): Promise<number> {
    return (await this.#look(this.#newInput(), frame, box, facePx, 0.3))?.score ?? 0;
  }

  /** The input side of this model. */
  get inputPx(): number {
    return this.#tilePx;
  }

  /** The best score for the candidate on a crop where the face is `facePx` high, and whether the screen gave it. */
  async #verify(
    input: ModelInput,
    frame: RgbFrame,
    box: PixelBox,
    facePx: number,
  ): Promise<{ score: number; screened: boolean }> {
    const screen = this.#screen;
    if (screen !== undefined) {
      // The same crop, at the screening model's input size.
      const glance = await screen.score(frame, box, (facePx * screen.inputPx) / this.#tilePx);
      if (glance < this.#params.faceScreenScore) return { score: glance, screened: true };
    }
    return { score: (await this.#look(input, frame, box, facePx, 0.3))?.score ?? 0, screened: false };
  }

  /** The strongest face on a crop centred on `box` (scaled so it is `facePx` high) that overlaps it by `minIou`. */
  async #look(
    input: ModelInput,
    frame: RgbFrame,
    box: PixelBox,
    facePx: number,
    minIou = 0.1,
  ): Promise<{ box: PixelBox; score: number } | undefined> {
    const side = Math.max(8, Math.round((Math.max(box.w, box.h) * this.#tilePx) / facePx));
    const x0 = Math.round(box.x + box.w / 2 - side / 2);
    const y0 = Math.round(box.y + box.h / 2 - side / 2);
    const left = Math.max(0, x0);
    const top = Math.max(0, y0);
    const right = Math.min(frame.width, x0 + side);
    const bottom = Math.min(frame.height, y0 + side);
    if (right <= left || bottom <= top) return undefined;
    // The part inside the frame is scaled and placed on black.
    const k = side / this.#tilePx;
    const w = Math.max(1, Math.round((right - left) / k));
    const h = Math.max(1, Math.round((bottom - top) / k));
    const at = {
      x: Math.min(this.#tilePx - w, Math.round((left - x0) / k)),
      y: Math.min(this.#tilePx - h, Math.round((top - y0) / k)),
    };
    fillCrop(input.data, frame, { left, top, right, bottom }, { w, h }, at, this.#tilePx);
    const hits: Detection[] = [];
    await this.#infer(input, {
      threshold: 0.05,
      toFrame: (x, y) => [x0 + x * k, y0 + y * k],
      pxToFrame: k,
      into: hits,
    });
    let best: Detection | undefined;
    for (const h of hits)
      if ((best === undefined || h.score > best.score) && iou(h.box, box) > minIou) best = h;
    return best === undefined ? undefined : { box: best.box, score: best.score };
  }

  /**
   * An input buffer and its tensor, one per scan: scans of two frames may interleave in a worker,
   * and a run reads its input a tick after it is called.
   */
  #newInput(): ModelInput {
    const data = new Float32Array(this.#tilePx * this.#tilePx * 3);
    // The model's batch is fixed at 1: one tile per run.
    return { data, tensor: new Tensor('float32', data, [1, this.#tilePx, this.#tilePx, 3]) };
  }

  async #infer(
    input: ModelInput,
    ctx: {
      threshold: number;
      toFrame: (x: number, y: number) => [number, number];
      pxToFrame: number;
      into: Detection[];
    },
  ): Promise<void> {
    const outputs = await this.#session.run({ [this.#inputName]: input.tensor });
    for (const grid of this.#grids) decodeGrid(outputs, grid, { tilePx: this.#tilePx, ...ctx });
  }
}

function toFrameBox(tile: PixelBox, scale: number): PixelBox {
  return { x: tile.x / scale, y: tile.y / scale, w: tile.w / scale, h: tile.h / scale };
}

/** Grey (Rec. 601 luma) of the whole-frame level, the frame's signature for change detection. */
function signatureOf(frame: RgbFrame, image: RgbFrame): FrameSignature {
  const grey = new Uint8Array(image.width * image.height);
  for (let i = 0, s = 0; i < grey.length; i++, s += 3)
    grey[i] = (image.data[s]! * 77 + image.data[s + 1]! * 150 + image.data[s + 2]! * 29) >> 8;
  return {
    frameWidth: frame.width,
    frameHeight: frame.height,
    width: image.width,
    height: image.height,
    grey,
  };
}

/**
 * `reference` shifted by the offset (within 3 signature pixels, to half a pixel) that best matches
 * `current`. Half pixels matter when the reference is a few frames old (several frames in flight):
 * a pan of half a signature pixel left whole-pixel residue on every edge, which read as change.
 */
function aligned(reference: FrameSignature, current: FrameSignature): FrameSignature {
  const { width, height } = current;
  const reach = 3;
  // Whole-pixel offsets index directly; only the half-pixel ones interpolate.
  const cost = (dx: number, dy: number): number => {
    let sum = 0;
    const whole = Number.isInteger(dx) && Number.isInteger(dy);
    for (let y = reach + 1; y < height - reach - 1; y += 2) {
      for (let x = reach + 1, i = y * width + x; x < width - reach - 1; x += 2, i += 2)
        sum += Math.abs(
          current.grey[i]! -
            (whole ? reference.grey[i - dy * width - dx]! : sample(reference, x - dx, y - dy)),
        );
    }
    return sum;
  };
  let best = { dx: 0, dy: 0, cost: Infinity };
  for (let dy = -reach; dy <= reach; dy++) {
    for (let dx = -reach; dx <= reach; dx++) {
      const c = cost(dx, dy);
      // Ties go to the smaller shift, so a still scene stays unshifted.
      if (
        c < best.cost ||
        (c === best.cost && Math.abs(dx) + Math.abs(dy) < Math.abs(best.dx) + Math.abs(best.dy))
      )
        best = { dx, dy, cost: c };
    }
  }
  // Then half a pixel either way, taken only when strictly better.
  const whole = best;
  for (const hy of [-0.5, 0, 0.5]) {
    for (const hx of [-0.5, 0, 0.5]) {
      if (hx === 0 && hy === 0) continue;
      const c = cost(whole.dx + hx, whole.dy + hy);
      if (c < best.cost) best = { dx: whole.dx + hx, dy: whole.dy + hy, cost: c };
    }
  }
  if (best.dx === 0 && best.dy === 0) return reference;
  const grey = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++)
      grey[y * width + x] = Math.round(sample(reference, x - best.dx, y - best.dy));
  }
  return { ...reference, grey };
}

/** The signature's grey at a fractional position, bilinear, the edge repeated. */
function sample(s: FrameSignature, x: number, y: number): number {
  const cx = Math.min(s.width - 1, Math.max(0, x));
  const cy = Math.min(s.height - 1, Math.max(0, y));
  const x0 = Math.floor(cx);
  const y0 = Math.floor(cy);
  const x1 = Math.min(s.width - 1, x0 + 1);
  const y1 = Math.min(s.height - 1, y0 + 1);
  const wx = cx - x0;
  const wy = cy - y0;
  const g = s.grey;
  const top = g[y0 * s.width + x0]! * (1 - wx) + g[y0 * s.width + x1]! * wx;
  const bottom = g[y1 * s.width + x0]! * (1 - wx) + g[y1 * s.width + x1]! * wx;
  return top * (1 - wy) + bottom * wy;
}

/**
 * The largest mean absolute grey difference over blocks of about 4x4 signature pixels inside a
 * region (frame pixels): a small face appearing changes its block, not the region's mean.
 */
function maxBlockChange(a: FrameSignature, b: FrameSignature, region: PixelBox): number {
  const blockPx = 4;
  const sx = a.frameWidth / a.width;
  const sy = a.frameHeight / a.height;
  let max = 0;
  const x1 = region.x + region.w;
  const y1 = region.y + region.h;
  // Blocks overlap by half so a small change on a block edge is not split in two.
  for (let y = region.y; y < y1; y += (blockPx / 2) * sy) {
    for (let x = region.x; x < x1; x += (blockPx / 2) * sx) {
      const change = meanChange(a, b, {
        x,
        y,
        w: Math.min(blockPx * sx, x1 - x),
        h: Math.min(blockPx * sy, y1 - y),
      });
      if (change > max) max = change;
    }
  }
  return max;
}

/** Mean absolute grey difference between two signatures over a region given in frame pixels. */
function meanChange(a: FrameSignature, b: FrameSignature, region: PixelBox): number {
  const sx = a.width / a.frameWidth;
  const sy = a.height / a.frameHeight;
  const x0 = Math.max(0, Math.floor(region.x * sx));
  const y0 = Math.max(0, Math.floor(region.y * sy));
  const x1 = Math.min(a.width, Math.ceil((region.x + region.w) * sx));
  const y1 = Math.min(a.height, Math.ceil((region.y + region.h) * sy));
  let sum = 0;
  let n = 0;
  for (let y = y0; y < y1; y++) {
    for (let i = y * a.width + x0, end = y * a.width + x1; i < end; i++, n++)
      sum += Math.abs(a.grey[i]! - b.grey[i]!);
  }
  return n > 0 ? sum / n : 0;
}

function findGrids(session: InferenceSession, modelName: string): AnchorGrid[] {
  const scoresByCount = new Map<number, string>();
  const boxesByCount = new Map<number, string>();
  for (const [i, name] of session.outputNames.entries()) {
    const meta = session.outputMetadata[i];
    const shape = meta !== undefined && meta.isTensor ? meta.shape : [];
    const anchors = shape[1];
    const last = shape[2];
    if (typeof anchors !== 'number') continue;
    if (last === 1) scoresByCount.set(anchors, name);
    if (last === 16) boxesByCount.set(anchors, name);
  }
  const grids: AnchorGrid[] = [];
  for (const [count, geometry] of gridByAnchorCount) {
    const scores = scoresByCount.get(count);
    const boxes = boxesByCount.get(count);
    if (scores !== undefined && boxes !== undefined) grids.push({ scores, boxes, ...geometry });
  }
  if (grids.length === 0) {
    throw new RigcapError(
      'RIGCAP_DEID_MODEL_INVALID',
      `model '${modelName}' does not have BlazeFace outputs ([1,512|384,1] scores and [1,512|384,16] boxes)`,
    );
  }
  return grids;
}

/**
 * The frame at every level's scale: the finest from the frame, each coarser one from the level
 * before it (a fraction of the pixels to read).
 */
async function levelImages(frame: RgbFrame, levels: readonly TileLevel[]): Promise<RgbFrame[]> {
  const images: RgbFrame[] = [];
  for (const level of levels) {
    const source = images.at(-1) ?? frame;
    images.push(level.scale === 1 ? frame : await resizeRgb(source, level.scaledWidth, level.scaledHeight));
  }
  return images;
}

/**
 * Copies one tile of `scaled` into the NHWC input at `at`, normalised; input pixels the image does
 * not reach stay at -1 (black).
 */
function fillTile(
  input: Float32Array,
  scaled: RgbFrame,
  tile: { x: number; y: number },
  tilePx: number,
  at: { x: number; y: number } = { x: 0, y: 0 },
): void {
  input.fill(-1);
  const rows = Math.min(tilePx - at.y, scaled.height - tile.y);
  const cols = Math.min(tilePx - at.x, scaled.width - tile.x);
  for (let r = 0; r < rows; r++) {
    let src = ((tile.y + r) * scaled.width + tile.x) * 3;
    let dst = ((at.y + r) * tilePx + at.x) * 3;
    const end = dst + cols * 3;
    while (dst < end) input[dst++] = normalise[scaled.data[src++]!]!;
  }
}

function decodeGrid(
  outputs: InferenceSession.OnnxValueMapType,
  grid: AnchorGrid,
  ctx: {
    tilePx: number;
    threshold: number;
    toFrame: (x: number, y: number) => [number, number];
    pxToFrame: number;
    into: Detection[];
  },
): void {
  const scores = outputs[grid.scores]?.data as Float32Array | undefined;
  const boxes = outputs[grid.boxes]?.data as Float32Array | undefined;
  if (scores === undefined || boxes === undefined)
    throw new RigcapError('RIGCAP_DEID_INFERENCE', 'BlazeFace outputs missing from the inference result');
  // Compare logits, not probabilities: one log per frame instead of one exp per anchor.
  const logitThreshold = Math.log(ctx.threshold / (1 - ctx.threshold));
  const { cells, anchorsPerCell } = grid;
  const cellPx = ctx.tilePx / cells;
  for (let i = 0; i < scores.length; i++) {
    const logit = scores[i]!;
    if (!(logit > logitThreshold)) continue;
    const cell = Math.floor(i / anchorsPerCell);
    const ax = ((cell % cells) + 0.5) * cellPx;
    const ay = (Math.floor(cell / cells) + 0.5) * cellPx;
    const b = i * 16;
    const cx = ax + boxes[b]!;
    const cy = ay + boxes[b + 1]!;
    const w = boxes[b + 2]!;
    const h = boxes[b + 3]!;
    if (!(w > 0 && h > 0)) continue;
    const [x, y] = ctx.toFrame(cx - w / 2, cy - h / 2);
    ctx.into.push({
      kind: 'face',
      score: 1 / (1 + Math.exp(-logit)),
      box: { x, y, w: w * ctx.pxToFrame, h: h * ctx.pxToFrame },
    });
  }
}
