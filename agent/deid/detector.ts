// All of a frame's detectors behind one call: loads each model from verified bytes and runs them.
import type { InferenceSession } from 'onnxruntime-node';
import { RigcapError, isRigcapError } from '../errors.ts';
import { BlazeFaceDetector } from './face-detector.ts';
import { askPeer, type FaceScanPeer, type FaceScanPlan, type FaceScanReport } from './face-scan.ts';
import type { RgbFrame } from './frame.ts';
import { dilateBox, type Detection, type PixelBox } from './geometry.ts';
import { readVerifiedModel, type ModelSpec } from './models.ts';
import type { DeidParams } from './params.ts';
import { DbPlateDetector } from './plate-detector.ts';
import { createInferenceSession, type ExecutionProviderChoice, type ProviderInUse } from './providers.ts';

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
        detect: (frame) => detector.detect(frame),
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
    const run = async (d: LoadedDetector): Promise<void> => {
      const found = await guarded(d, () => d.detect(frame));
      all.push(...found);
      for (const f of found) if (f.kind === 'plate') plates.push(f.box);
    };
    // First half, which needs nothing the earlier frames found: the face tiles, other face models,
    // and the plate models on this frame's turn or where the tiles saw a full scan or a change.
    const tiles =
      planned?.face === undefined
        ? undefined
        : await guarded(planned, () => planned.face!.scanTiles(frame, plan, peer));
    let platesRan = plan === undefined || plan.runPlates || tiles?.full === true || tiles?.changed === true;
    for (const d of others) if (d.spec.kind === 'face' || platesRan) await run(d);
    // Second half: what the earlier frames found (they may still have been in flight until now).
    const context =
      plan === undefined ? undefined : plan.context === 'ask' ? await askPeer(peer).context() : plan.context;
    if (!platesRan && context?.plates.run === true) {
      // The frame that was to run the plate detector did not report: this one runs it.
      platesRan = true;
      for (const d of others) if (d.spec.kind === 'plate') await run(d);
    }
    let face: Omit<FaceScanReport, 'plates'> | undefined;
    if (planned?.face !== undefined && tiles !== undefined) {
      const result = await guarded(planned, () => planned.face!.confirm(frame, tiles, plan, context));
      face = result.report;
      all.push(...result.detections);
    }
    if (!platesRan && context?.plates.run === false) {
      for (const box of context.plates.held)
        all.push({ kind: 'plate', box: dilateBox(box, this.#params.plateHoldMarginRatio, frame), score: 0 });
    }
    const faceScan = face === undefined ? undefined : { ...face, plates: platesRan ? plates : null };
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
