// The knobs that decide what gets blurred, and their digest for the lineage record.
import { createHash } from 'node:crypto';
import type { DeidConfig } from '../config/types.ts';

/** Everything that changes which pixels are blurred, in one plain object. */
export interface DeidParams {
  /** Score a face candidate must reach when re-run at the verification scale to be kept. */
  readonly faceThreshold: number;
  /** Tile hits at or above this score become candidates for verification (recall is decided here). */
  readonly faceCandidateThreshold: number;
  /** A candidate is re-run on a crop scaled so the face is this many pixels high in the model input. */
  readonly faceVerifyFacePx: number;
  /**
   * A candidate the screening model (blazeface-front-128, on the same crop) scores below this is
   * rejected without the full verification. Faces verified on the eval set score 0.77 and up there.
   */
  readonly faceScreenScore: number;
  readonly plateThreshold: number;
  /** Each box grows by this share of its size on every side before blurring. */
  readonly marginRatio: number;
  readonly blur: 'gaussian' | 'pixelate';
  readonly jpegQuality: number;
  /** Square side of one face tile (the face model's input). */
  readonly faceTilePx: number;
  /** Frame scales the face tiles are cut at, finest first; a whole-frame pass is always added. */
  readonly faceTileScales: readonly number[];
  /** Overlap between neighbouring tiles, in tile pixels: faces up to this size are never cut. */
  readonly faceTileOverlapPx: number;
  /**
   * On a video stream the finest tile level is swept over this many frames (every frame scans the
   * coarse levels, the tiles around known faces and the tiles whose content changed); 1 = every
   * tile of every frame.
   */
  readonly faceSweepFrames: number;
  /** The coarser tile levels (not the whole-frame pass) are swept over this many frames, on the same terms. */
  readonly faceCoarseSweepFrames: number;
  /**
   * A confirmed face not seen again is still blurred for this many frames (grown by
   * faceHoldMarginRatio), carried by the camera's motion and its own.
   */
  readonly faceHoldFrames: number;
  readonly faceHoldMarginRatio: number;
  /** Mean absolute grey change (0-255, coarse level) above which a fine tile is rescanned now. */
  readonly faceTileChangeGrey: number;
  /** Mean absolute grey change over the whole frame above which the frame gets a full scan (a cut or a fast pan). */
  readonly faceFrameChangeGrey: number;
  /** On a video stream the plate detector runs every this many frames; in between its plates stay blurred. */
  readonly plateEveryFrames: number;
  /** Held plates grow by this share of their size on every side (motion since they were found). */
  readonly plateHoldMarginRatio: number;
  /**
   * A plate not found again (the detector ran and missed it, or did not run) is still blurred for
   * this many frames after it was last found, carried by the camera's motion and its own.
   */
  readonly plateHoldFrames: number;
  /** The frame is scaled so its longest side is this for the text detector. */
  readonly plateInputMaxSide: number;
  /** Text boxes are kept as plates only within this aspect (width / height) range. */
  readonly plateAspectMin: number;
  readonly plateAspectMax: number;
}

/** Detection parameters for a config, with rigcap's tiling defaults. */
export function deidParamsFor(
  config: Pick<DeidConfig, 'faceThreshold' | 'plateThreshold' | 'marginRatio' | 'blur' | 'jpegQuality'> & {
    readonly faceSweepFrames?: number;
  },
): DeidParams {
  const sweep = Math.max(1, Math.round(config.faceSweepFrames ?? defaultFaceSweepFrames));
  return {
    faceThreshold: config.faceThreshold,
    faceCandidateThreshold: Math.min(0.3, config.faceThreshold),
    faceVerifyFacePx: 64,
    faceScreenScore: 0.3,
    plateThreshold: config.plateThreshold,
    marginRatio: config.marginRatio,
    blur: config.blur,
    jpegQuality: config.jpegQuality,
    faceTilePx: 256,
    // 0.7 gives faces of 24 px about 17 px in the tile, where the model still fires; 0.237 keeps the
    // middle level to one row of two tiles at 1080p.
    faceTileScales: [0.7, 0.237],
    faceTileOverlapPx: 40,
    faceSweepFrames: sweep,
    faceCoarseSweepFrames: Math.min(sweep, 2),
    faceHoldFrames: sweep,
    faceHoldMarginRatio: 0.25,
    faceTileChangeGrey: 40,
    faceFrameChangeGrey: 30,
    // At 640 the DB detector sees whole plate lines (at 960 it splits large plates into words) in
    // less than half the time.
    plateInputMaxSide: 640,
    plateEveryFrames: sweep > 1 ? 2 : 1,
    plateHoldMarginRatio: 0.25,
    // Enough to bridge one detector run that misses a plate found on the run before.
    plateHoldFrames: sweep > 1 ? 3 : 1,
    plateAspectMin: 1.2,
    plateAspectMax: 12,
  };
}

/** Frames over which the finest face tiles are swept on a video stream. */
export const defaultFaceSweepFrames = 4;

/** Defaults for tools that run without a config file (`rigcap deid`, selftest, bench). */
export const defaultDeidConfig = {
  enabled: true,
  workers: 0,
  executionProvider: 'cpu',
  fallbackToCpu: false,
  blur: 'gaussian',
  marginRatio: 0.15,
  jpegQuality: 90,
  faceThreshold: 0.75,
  faceSweepFrames: 4,
  plateThreshold: 0.6,
  timeoutMs: 30_000,
  selfTestTimeoutMs: 60_000,
  maxPending: 8,
  mode: 'spill',
  holdingBytes: 2 * 1024 * 1024 * 1024,
  holdingDrop: 'oldest',
  lookaheadFrames: 0,
  customModels: [],
} as const satisfies DeidConfig;

/** Lowercase hex SHA-256 of the canonical (JCS: sorted keys, ES number form) JSON of the parameters. */
export function paramsDigest(params: DeidParams): string {
  return createHash('sha256').update(canonicalJson(params)).digest('hex');
}

/** JCS (RFC 8785) for the plain values parameters hold: objects, arrays, strings, finite numbers, booleans. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  if (typeof value === 'number' && !Number.isFinite(value))
    throw new TypeError('non-finite number in parameters');
  return JSON.stringify(value);
}
