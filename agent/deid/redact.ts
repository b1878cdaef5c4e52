// One image sample in, the same sample with faces and plates blurred out. Runs inside a worker.
import type { Sample } from '../../drivers/types.ts';
import { blurBoxes } from './blur.ts';
import type { FrameDetector } from './detector.ts';
import type { FaceScanPeer, FaceScanPlan, FaceScanReport } from './face-scan.ts';
import type { Detection } from './geometry.ts';
import { decodeImageSample } from './image-codec.ts';
import type { DeidParams } from './params.ts';

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
  const { detections, faceScan } = await deps.detector.detectPlanned(image.frame, deps.plan, deps.peer);
  if (faceScan !== undefined) deps.peer?.report(faceScan);
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
