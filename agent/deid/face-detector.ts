// MediaPipe BlazeFace on a tile pyramid, with a second look at every candidate (the model's
// outputs are decoded in blazeface-decode.ts).
import type { InferenceSession } from 'onnxruntime-node';
import { Tensor } from 'onnxruntime-node';
import { RigcapError } from '../errors.ts';
import { decodeGrid, fillTile, findGrids, type AnchorGrid } from './blazeface-decode.ts';
import { compareWithEarlier, maxBlockChange, signatureOf, type FrameMotion } from './frame-change.ts';
import type { RgbFrame } from './frame.ts';
import {
  askPeer,
  type FaceScanContext,
  type FaceScanPeer,
  type FaceScanPlan,
  type FaceScanReport,
  type FaceTrack,
  type FaceVerdict,
  type FrameSignature,
} from './face-scan.ts';
import { iou, mergeDetections, type Detection, type PixelBox } from './geometry.ts';
import type { LoadedModel } from './models.ts';
import type { DeidParams } from './params.ts';
import { fillCrop, resizeRgb } from './resample.ts';
import { planFaceTiles, type TileLevel } from './tiling.ts';
import { heldBoxes } from './track-fill.ts';

/** Faces at least this high (frame px) are seen by the coarse levels, which run on every frame. */
const coarseVisiblePx = 64;

/** A candidate overlapping an earlier rejection this much (in a place that did not change) is settled by it. */
const rejectionReuseIou = 0.3;

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
  /** The previous frame's thumbnail warped to this one by the camera motion; null when there was none to trust. */
  readonly reference: FrameSignature | null;
  /** The camera motion from the previous frame; null when unknown. */
  readonly motion: FrameMotion | null;
  readonly full: boolean;
  readonly cut: boolean;
  readonly changed: boolean;
  /** Where it changed beyond the camera's motion (frame pixels). */
  readonly changedRegions: readonly PixelBox[];
  readonly hits: readonly Detection[];
  readonly tilesScanned: number;
  readonly tilesTotal: number;
}

/** Faces found in one frame and what the scan did. */
export interface FaceScanResult {
  /** Confirmed faces and faces held from earlier frames, in frame pixels. */
  readonly detections: Detection[];
  readonly report: Omit<FaceScanReport, 'plates' | 'platesNear' | 'filled'> & { readonly filled: number };
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
    // Compared after undoing the camera's own motion, a moving camera does not look like change everywhere.
    const { reference, motion, full, cut, changed, changedRegions } = compareWithEarlier(
      earlier,
      signature,
      p,
    );
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
    return {
      signature,
      reference,
      motion,
      full,
      cut,
      changed,
      changedRegions,
      hits,
      tilesScanned,
      tilesTotal,
    };
  }

  /**
   * The second half: candidates from the tiles are verified (or settled by what the earlier frames
   * found), known small faces are followed, and faces confirmed a moment ago are held. `context`
   * must already be in this frame's pixels (see contextInFrame).
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
        : reusable.find((v) =>
            v.face
              ? iou(v.box, c.box) >= 0.5
              : // Low-score candidates on still background wander between frames: a rejection nearby
                // settles one, as long as nothing there changed and it did not score higher.
                unchanged && iou(v.box, c.box) >= rejectionReuseIou && c.score <= v.score + 0.1,
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
    const followed = await this.#follow(input, frame, { tracks, confirmed, plan });
    const detections: Detection[] = confirmed.map((c) => ({ kind: 'face', box: c.box, score: c.score }));
    // A face confirmed a moment ago and not confirmed now (turned, blurred by motion) stays blurred.
    const { held, filled } = heldBoxes(
      tracks,
      confirmed.map((c) => c.box),
      { looked: true, marginRatio: p.faceHoldMarginRatio, frame },
    );
    for (const h of held) detections.push({ kind: 'face', ...h });
    return {
      detections,
      report: {
        confirmed,
        verdicts,
        signature,
        motion: scan.motion,
        filled,
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

  /**
   * A small known face the tiles did not confirm (its tile was not due) is looked for again on a
   * crop around it at the verification scale: one inference instead of the tiles around it.
   * Every other frame is enough: in between, the held box (grown for motion) covers the face. Odd
   * frames, because the plate detector runs on even ones. Adds what it finds to `confirmed`;
   * returns how many tracks it looked for.
   */
  async #follow(
    input: ModelInput,
    frame: RgbFrame,
    o: {
      tracks: readonly FaceTrack[];
      confirmed: Array<{ box: PixelBox; score: number }>;
      plan: FaceScanPlan | undefined;
    },
  ): Promise<number> {
    const p = this.#params;
    const { confirmed, plan } = o;
    let followed = 0;
    const follow = plan === undefined || plan.sweep.phase % 2 === 1;
    for (const t of follow ? o.tracks : []) {
      if (Math.max(t.box.w, t.box.h) >= coarseVisiblePx || confirmed.some((c) => iou(c.box, t.box) > 0.2))
        continue;
      followed++;
      const found = await this.#look(input, frame, t.box, p.faceVerifyFacePx);
      if (found !== undefined && found.score >= p.faceThreshold) confirmed.push(found);
    }
    return followed;
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
