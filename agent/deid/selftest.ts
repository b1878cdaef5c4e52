// Start-up proof that de-identification works on this device: the detectors must find the known
// face and plate in the shipped test image, or capture refuses to start. Its time bound is the
// start-up one (deid.selfTestTimeoutMs), not the per-frame deid.timeoutMs: a session's first run is
// much slower than the next, and a busy machine must still start (then drop or hold frames, counted).
import { readFile } from 'node:fs/promises';
import { RigcapError } from '../errors.ts';
import type { Detection } from './geometry.ts';

/** The shipped test image (one face, one plate). */
export const selfTestImageUrl = new URL('./assets/selftest.jpg', import.meta.url);

/** The shipped test image's bytes (also each worker's untimed warm-up frame). */
export async function readSelfTestImage(): Promise<Uint8Array> {
  return new Uint8Array(await readFile(selfTestImageUrl));
}

/** What the self-test saw. */
export interface DeidSelfTestResult {
  readonly faces: number;
  readonly plates: number;
  readonly ms: number;
}

/** Anything that can redact a JPEG and report its detections (the worker pool, or a detector in-process). */
export type JpegRedactor = (jpeg: Uint8Array) => Promise<{ detections: readonly Detection[] }>;

/** Runs the redactor on the shipped image; throws RIGCAP_DEID_SELFTEST_FAILED unless it finds a face and a plate. */
export async function runDeidSelfTest(redact: JpegRedactor): Promise<DeidSelfTestResult> {
  const image = await readSelfTestImage();
  const started = performance.now();
  const { detections } = await redact(image);
  const faces = detections.filter((d) => d.kind === 'face').length;
  const plates = detections.filter((d) => d.kind === 'plate').length;
  const result = { faces, plates, ms: performance.now() - started };
  if (faces === 0 || plates === 0) {
    throw new RigcapError(
      'RIGCAP_DEID_SELFTEST_FAILED',
      `self-test image: ${faces} face(s) and ${plates} plate(s) found, expected at least one of each`,
      {
        details: { faces, plates },
      },
    );
  }
  return result;
}
