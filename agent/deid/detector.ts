// All of a frame's detectors behind one call: loads each model from verified bytes and runs them.
import { InferenceSession } from 'onnxruntime-node';
import { RigcapError, isRigcapError } from '../errors.ts';
import { BlazeFaceDetector } from './face-detector.ts';
import type { RgbFrame } from './frame.ts';
import type { Detection } from './geometry.ts';
import { readVerifiedModel, type ModelSpec } from './models.ts';
import type { DeidParams } from './params.ts';
import { DbPlateDetector } from './plate-detector.ts';

interface LoadedDetector {
  readonly spec: ModelSpec;
  detect(frame: RgbFrame): Promise<Detection[]>;
}

/** Runs every configured face and plate model on a frame. */
export class FrameDetector {
  readonly #detectors: readonly LoadedDetector[];

  private constructor(detectors: readonly LoadedDetector[]) {
    this.#detectors = detectors;
  }

  /** Loads and digest-checks every model; one missing or altered model fails the whole load. */
  static async load(options: { specs: readonly ModelSpec[]; params: DeidParams; intraOpThreads: number }): Promise<FrameDetector> {
    const detectors: LoadedDetector[] = [];
    for (const spec of options.specs) {
      const bytes = await readVerifiedModel(spec);
      let session: InferenceSession;
      try {
        session = await InferenceSession.create(bytes, {
          intraOpNumThreads: options.intraOpThreads,
          interOpNumThreads: 1,
          graphOptimizationLevel: 'all',
          // onnxruntime warns about unused initialisers in the PP-OCR graph on every load.
          logSeverityLevel: 3,
        });
      } catch (err) {
        throw new RigcapError('RIGCAP_DEID_MODEL_INVALID', `model '${spec.name}' is not a loadable ONNX graph: ${String(err)}`, { cause: err });
      }
      const args = { session, inputSize: spec.inputSize, params: options.params, modelName: spec.name };
      const detector = spec.decoder === 'blazeface' ? new BlazeFaceDetector(args) : new DbPlateDetector(args);
      detectors.push({ spec, detect: (frame) => detector.detect(frame) });
    }
    return new FrameDetector(detectors);
  }

  /** Every detection of every model, in frame pixels. */
  async detect(frame: RgbFrame): Promise<Detection[]> {
    const all: Detection[] = [];
    for (const d of this.#detectors) {
      try {
        all.push(...(await d.detect(frame)));
      } catch (err) {
        if (isRigcapError(err)) throw err;
        throw new RigcapError('RIGCAP_DEID_INFERENCE', `model '${d.spec.name}' failed: ${String(err)}`, { cause: err });
      }
    }
    return all;
  }
}
