// The knobs that decide what gets blurred, and their digest for the lineage record.
import { createHash } from 'node:crypto';
import type { DeidConfig } from '../config/types.ts';

/** Everything that changes which pixels are blurred, in one plain object. */
export interface DeidParams {
  readonly faceThreshold: number;
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
  /** The frame is scaled so its longest side is this for the text detector. */
  readonly plateInputMaxSide: number;
  /** Text boxes are kept as plates only within this aspect (width / height) range. */
  readonly plateAspectMin: number;
  readonly plateAspectMax: number;
}

/** Detection parameters for a config, with rigcap's tiling defaults. */
export function deidParamsFor(config: Pick<DeidConfig, 'faceThreshold' | 'plateThreshold' | 'marginRatio' | 'blur' | 'jpegQuality'>): DeidParams {
  return {
    faceThreshold: config.faceThreshold,
    plateThreshold: config.plateThreshold,
    marginRatio: config.marginRatio,
    blur: config.blur,
    jpegQuality: config.jpegQuality,
    faceTilePx: 256,
    faceTileScales: [0.55, 0.22],
    faceTileOverlapPx: 40,
    plateInputMaxSide: 960,
    plateAspectMin: 1.2,
    plateAspectMax: 12,
  };
}

/** Defaults for tools that run without a config file (`rigcap deid`, selftest, bench). */
export const defaultDeidConfig = {
  enabled: true,
  workers: 0,
  blur: 'gaussian',
  marginRatio: 0.15,
  jpegQuality: 90,
  faceThreshold: 0.6,
  plateThreshold: 0.6,
  timeoutMs: 5000,
  maxPending: 8,
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
  if (typeof value === 'number' && !Number.isFinite(value)) throw new TypeError('non-finite number in parameters');
  return JSON.stringify(value);
}
