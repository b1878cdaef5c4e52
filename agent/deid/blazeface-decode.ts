// BlazeFace's outputs and inputs as arrays: which output heads hold which anchor grid, how a grid's
// anchors decode into boxes, and how a tile is copied into the model's input. Decoding follows the
// model's anchor layout: a 16×16 grid with 2 anchors per cell and an 8×8 grid with 6, every anchor
// centred in its cell with unit size, box offsets in input pixels (keijiro/BlazeFaceBarracuda,
// Postprocess1Kernel.hlsl).
import type { InferenceSession } from 'onnxruntime-node';
import { RigcapError } from '../errors.ts';
import type { RgbFrame } from './frame.ts';
import type { Detection } from './geometry.ts';

/** The score/box output pair of one anchor grid. */
export interface AnchorGrid {
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

/** The anchor grids of a BlazeFace session, found by their output shapes. */
export function findGrids(session: InferenceSession, modelName: string): AnchorGrid[] {
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
 * Copies one tile of `scaled` into the NHWC input at `at`, normalised; input pixels the image does
 * not reach stay at -1 (black).
 */
export function fillTile(
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

/** Hits of one anchor grid above the threshold, in frame pixels, appended to `ctx.into`. */
export function decodeGrid(
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
