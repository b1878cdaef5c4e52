// Decoded pixels as they move between codec, detectors and blur.

/** Interleaved 8-bit RGB pixels, row-major, no padding. */
export interface RgbFrame {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8Array;
}
