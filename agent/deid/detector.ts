// All of a frame's detectors behind one call: loads each model from verified bytes and runs them.
import type { InferenceSession } from 'onnxruntime-node';
import { RigcapError, isRigcapError } from '../errors.ts';
import { BlazeFaceDetector, type FaceScanResult } from './face-detector.ts';
import {
  askPeer,
  contextInFrame,
  type FaceScanPeer,
  type FaceScanPlan,
  type FaceScanReport,
} from './face-scan.ts';
import type { RgbFrame } from './frame.ts';
import type { Detection, PixelBox } from './geometry.ts';
import { readVerifiedModel, type ModelSpec } from './models.ts';
import type { DeidParams } from './params.ts';
import { DbPlateDetector } from './plate-detector.ts';
import { createInferenceSession, type ExecutionProviderChoice, type ProviderInUse } from './providers.ts';
import { heldBoxes } from './track-fill.ts';

interface LoadedDetector {
  readonly spec: ModelSpec;
  /** The first BlazeFace model follows the stream's scan plan; every other model scans whole frames. */
  readonly face: BlazeFaceDetector | undefined;
  /** With `within`, a plate model looks only at those places (a face model ignores it). */
  detect(frame: RgbFrame, within?: readonly PixelBox[]): Promise<Detection[]>;
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
  /** The execution provider the models run on (set by load). */
  provider: ProviderInUse = { configured: 'cpu', provider: 'cpu' };

  private constructor(detectors: readonly LoadedDetector[], params: DeidParams) {
    this.#detectors = detectors;
    this.#params = params;
  }

  /** Loads and digest-checks every model; one missing or altered model fails the whole load. */
  static async load(options: {
    specs: readonly ModelSpec[];
    params: DeidParams;
    intraOpThreads: number;
    provider?: ExecutionProviderChoice | undefined;
  }): Promise<FrameDetector> {
    const detectors: LoadedDetector[] = [];
    const screens: BlazeFaceDetector[] = [];
    let provider: ProviderInUse | undefined;
    for (const spec of options.specs) {
      const bytes = await readVerifiedModel(spec);
      let session: InferenceSession;
      let inUse: ProviderInUse;
      try {
        ({ session, inUse } = await createInferenceSession(bytes, {
          provider: options.provider,
          intraOpNumThreads: options.intraOpThreads,
          interOpNumThreads: 1,
          executionMode: 'sequential',
          graphOptimizationLevel: 'all',
          // onnxruntime warns about unused initialisers in the PP-OCR graph on every load.
          logSeverityLevel: 3,
        }));
        provider = inUse;
      } catch (err) {
        if (isRigcapError(err)) throw err;
        throw new RigcapError(
          'RIGCAP_DEID_MODEL_INVALID',
          `model '${spec.name}' is not a loadable ONNX graph: ${String(err)}`,
          { cause: err },
        );
      }
      const args = { session, inputSize: spec.inputSize, params: options.params, modelName: spec.name };
      if (spec.role === 'screen') {
        if (spec.decoder !== 'blazeface')
          throw new RigcapError(
            'RIGCAP_DEID_MODEL_INVALID',
            `screening model '${spec.name}' must be a BlazeFace model`,
          );
        screens.push(new BlazeFaceDetector(args));
        continue;
      }
      const detector = spec.decoder === 'blazeface' ? new BlazeFaceDetector(args) : new DbPlateDetector(args);
      const planned = detector instanceof BlazeFaceDetector && !detectors.some((d) => d.face !== undefined);
      detectors.push({
        spec,
        face: planned ? detector : undefined,
        detect: (frame, within) =>
          detector instanceof DbPlateDetector && within !== undefined
            ? detector.detect(frame, { within })
            : detector.detect(frame),
      });
    }
    // The planned face detector screens its candidates with the first screening model.
    const screen = screens[0];
    if (screen !== undefined) detectors.find((d) => d.face !== undefined)?.face?.screenWith(screen);
    const detector = new FrameDetector(detectors, options.params);
    if (provider !== undefined) detector.provider = provider;
    return detector;
  }

  /** Every detection of every model, in frame pixels (every tile of a single image). */
  async detect(frame: RgbFrame): Promise<Detection[]> {
    return (await this.detectPlanned(frame, undefined)).detections;
  }

  /**
   * Every detection of every model; face and plate scans follow `plan`, a frame of a video stream.
   * What the plan leaves to ask about earlier frames in flight elsewhere, `peer` answers.
   */
  async detectPlanned(
    frame: RgbFrame,
    plan: FaceScanPlan | undefined,
    peer?: FaceScanPeer,
  ): Promise<FrameDetections> {
    const all: Detection[] = [];
    const plates: PixelBox[] = [];
    const planned = this.#detectors.find((d) => d.face !== undefined);
    const others = this.#detectors.filter((d) => d !== planned);
    const near: Detection[] = [];
    const run = async (d: LoadedDetector, within?: readonly PixelBox[]): Promise<void> => {
      const found = await guarded(d, () => d.detect(frame, within));
      if (within !== undefined) return void near.push(...found);
      all.push(...found);
      for (const f of found) if (f.kind === 'plate') plates.push(f.box);
    };
    // First half, which needs nothing the earlier frames found: the face tiles, other face models,
    // and the plate models on this frame's turn or after a full scan; between turns, the plate
    // models look only where the view changed beyond the camera's motion.
    const tiles =
      planned?.face === undefined
        ? undefined
        : await guarded(planned, () => planned.face!.scanTiles(frame, plan, peer));
    let platesRan = plan === undefined || plan.runPlates || tiles?.full === true;
    const changedPlaces = !platesRan && tiles?.changed === true ? tiles.changedRegions : undefined;
    for (const d of others) {
      if (d.spec.kind === 'face' || platesRan) await run(d);
      else if (changedPlaces !== undefined) await run(d, changedPlaces);
    }
    // Second half: what the earlier frames found (they may still have been in flight until now),
    // carried into this frame's pixels by the camera's motion.
    const told =
      plan === undefined ? undefined : plan.context === 'ask' ? await askPeer(peer).context() : plan.context;
    const context = told === undefined ? undefined : contextInFrame(told, tiles?.motion ?? null);
    if (!platesRan && context?.plates.run === true) {
      // The frame that was to run the plate detector did not report: this one runs it.
      platesRan = true;
      near.length = 0;
      for (const d of others) if (d.spec.kind === 'plate') await run(d);
    }
    all.push(...near);
    const platesNear = near.filter((d) => d.kind === 'plate').map((d) => d.box);
    let face: FaceScanResult['report'] | undefined;
    if (planned?.face !== undefined && tiles !== undefined) {
      const result = await guarded(planned, () => planned.face!.confirm(frame, tiles, plan, context));
      face = result.report;
      all.push(...result.detections);
    }
    // Plates found a moment ago stay blurred where the detector did not run, or ran and missed them.
    const { held, filled: filledPlates } = heldBoxes(
      tiles?.cut === true ? [] : (context?.plates.tracks ?? []),
      [...plates, ...platesNear],
      { looked: platesRan, marginRatio: this.#params.plateHoldMarginRatio, frame },
    );
    for (const h of held) all.push({ kind: 'plate', box: h.box, score: 0 });
    const faceScan =
      face === undefined
        ? undefined
        : {
            ...face,
            plates: platesRan ? plates : null,
            platesNear,
            filled: { face: face.filled, plate: filledPlates },
          };
    return { detections: all, faceScan };
  }
}

/** Runs one model's step; anything it throws that is not already a RigcapError becomes an inference error naming the model. */
async function guarded<T>(d: LoadedDetector, step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (err) {
    if (isRigcapError(err)) throw err;
    throw new RigcapError('RIGCAP_DEID_INFERENCE', `model '${d.spec.name}' failed: ${String(err)}`, {
      cause: err,
    });
  }
}
