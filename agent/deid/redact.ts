// One image sample in, the same sample with faces and plates blurred out. Runs inside a worker.
import type { Sample } from '../../drivers/types.ts';
import { blurBoxes } from './blur.ts';
import type { FrameDetector } from './detector.ts';
import { askPeer, type FaceScanPeer, type FaceScanPlan, type FaceScanReport } from './face-scan.ts';
import type { Detection } from './geometry.ts';
import { decodeImageSample } from './image-codec.ts';
import type { DeidParams } from './params.ts';
import { fillDetections } from './track-fill.ts';

/** The re-encoded payload and what was found (boxes only, never pixels). */
export interface RedactedImage {
  readonly data: Uint8Array;
  readonly detections: readonly Detection[];
  readonly faceScan?: FaceScanReport;
}

/** Detects and blurs faces and plates in an image sample's payload. */
export async function redactImageSample(
  sample: Pick<Sample, 'encoding' | 'schemaRef' | 'data'>,
  deps: {
    detector: FrameDetector;
    params: DeidParams;
    plan?: FaceScanPlan | undefined;
    /** Answers what the plan leaves to ask (frames of the stream in flight in other workers). */
    peer?: FaceScanPeer | undefined;
  },
): Promise<RedactedImage> {
  const image = await decodeImageSample(sample, { jpegQuality: deps.params.jpegQuality });
  const planned = await deps.detector.detectPlanned(image.frame, deps.plan, deps.peer);
  let { detections, faceScan } = planned;
  if (faceScan !== undefined) deps.peer?.report(faceScan);
  if (faceScan !== undefined && deps.plan?.fill === 'ask') {
    // Lookahead: what the frames on both sides saw and this one missed is blurred here too.
    const filled = fillDetections(detections, await askPeer(deps.peer).fill(), {
      marginRatio: deps.params.faceHoldMarginRatio,
      frame: image.frame,
    });
    detections = [...detections, ...filled];
    faceScan = {
      ...faceScan,
      filled: {
        face: faceScan.filled.face + filled.filter((d) => d.kind === 'face').length,
        plate: faceScan.filled.plate + filled.filter((d) => d.kind === 'plate').length,
      },
    };
  }
  const scan = faceScan === undefined ? {} : { faceScan };
  // Nothing found: the original bytes go on untouched (no re-encode, no generation loss).
  if (detections.length === 0) return { data: Uint8Array.from(sample.data), detections, ...scan };
  const blurred = await blurBoxes(
    image.frame,
    detections.map((d) => d.box),
    { kind: deps.params.blur, marginRatio: deps.params.marginRatio },
  );
  return { data: await image.encode(blurred), detections, ...scan };
}
