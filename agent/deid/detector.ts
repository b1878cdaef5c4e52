// All of a frame's detectors behind one call: loads each model from verified bytes and runs them.
import { InferenceSession } from 'onnxruntime-node';
import { RigcapError, isRigcapError } from '../errors.ts';
import { BlazeFaceDetector } from './face-detector.ts';
import type { FaceScanPlan, FaceScanReport } from './face-scan.ts';
import type { RgbFrame } from './frame.ts';
import { dilateBox, type Detection, type PixelBox } from './geometry.ts';
import { readVerifiedModel, type ModelSpec } from './models.ts';
import type { DeidParams } from './params.ts';
import { DbPlateDetector } from './plate-detector.ts';

interface LoadedDetector {
  readonly spec: ModelSpec;
  /** The first BlazeFace model follows the stream's scan plan; every other model scans whole frames. */
  readonly face: BlazeFaceDetector | undefined;
  detect(frame: RgbFrame): Promise<Detection[]>;
}

/** Every detection of a frame, and how the planned face scan went (when there was one). */
export interface FrameDetections {
  readonly detections: Detection[];
  readonly faceScan: FaceScanReport | undefined;
}

/** Runs every configured face and plate model on a frame. */
export class FrameDetector {
  readonly #detectors: readonly LoadedDetector[];
  readonly #params: DeidParams;

  private constructor(detectors: readonly LoadedDetector[], params: DeidParams) {
    this.#detectors = detectors;
    this.#params = params;
  }

  /** Loads and digest-checks every model; one missing or altered model fails the whole load. */
  static async load(options: {
    specs: readonly ModelSpec[];
    params: DeidParams;
    intraOpThreads: number;
  }): Promise<FrameDetector> {
    const detectors: LoadedDetector[] = [];
    for (const spec of options.specs) {
      const bytes = await readVerifiedModel(spec);
      let session: InferenceSession;
      try {
        session = await InferenceSession.create(bytes, {
          intraOpNumThreads: options.intraOpThreads,
          interOpNumThreads: 1,
          executionMode: 'sequential',
          graphOptimizationLevel: 'all',
          // onnxruntime warns about unused initialisers in the PP-OCR graph on every load.
          logSeverityLevel: 3,
        });
      } catch (err) {
        throw new RigcapError(
          'RIGCAP_DEID_MODEL_INVALID',
          `model '${spec.name}' is not a loadable ONNX graph: ${String(err)}`,
          { cause: err },
        );
      }
      const args = { session, inputSize: spec.inputSize, params: options.params, modelName: spec.name };
      const detector = spec.decoder === 'blazeface' ? new BlazeFaceDetector(args) : new DbPlateDetector(args);
      const planned = detector instanceof BlazeFaceDetector && !detectors.some((d) => d.face !== undefined);
      detectors.push({
        spec,
        face: planned ? detector : undefined,
        detect: (frame) => detector.detect(frame),
      });
    }
    return new FrameDetector(detectors, options.params);
  }

  /** Every detection of every model, in frame pixels (every tile of a single image). */
  async detect(frame: RgbFrame): Promise<Detection[]> {
    return (await this.detectPlanned(frame, undefined)).detections;
  }

  /** Every detection of every model; face and plate scans follow `plan`, a frame of a video stream. */
  async detectPlanned(frame: RgbFrame, plan: FaceScanPlan | undefined): Promise<FrameDetections> {
    const all: Detection[] = [];
    let face: Omit<FaceScanReport, 'plates'> | undefined;
    // A frame the face scan had to scan in full (first frame, a cut, a fast pan) or where something
    // appeared runs plates too.
    const runPlates = (): boolean =>
      plan === undefined || plan.plates.run || face?.full === true || face?.changed === true;
    const plates: PixelBox[] = [];
    for (const d of this.#detectors) {
      try {
        if (d.face !== undefined) {
          const result = await d.face.scan(frame, plan);
          face = result.report;
          all.push(...result.detections);
        } else if (d.spec.kind === 'face' || runPlates()) {
          const found = await d.detect(frame);
          all.push(...found);
          for (const f of found) if (f.kind === 'plate') plates.push(f.box);
        }
      } catch (err) {
        if (isRigcapError(err)) throw err;
        throw new RigcapError('RIGCAP_DEID_INFERENCE', `model '${d.spec.name}' failed: ${String(err)}`, {
          cause: err,
        });
      }
    }
    if (plan !== undefined && !plan.plates.run && !runPlates()) {
      for (const box of plan.plates.held)
        all.push({ kind: 'plate', box: dilateBox(box, this.#params.plateHoldMarginRatio, frame), score: 0 });
    }
    const faceScan = face === undefined ? undefined : { ...face, plates: runPlates() ? plates : null };
    return { detections: all, faceScan };
  }
}
