// De-id in the calling thread, for one-shot tools (`rigcap deid`, `rigcap selftest`, the bench's
// accuracy pass) where a worker pool would only add start-up time.
import type { Sample } from '../../drivers/types.ts';
import type { DeidConfig } from '../config/types.ts';
import { FrameDetector } from './detector.ts';
import type { FaceScanPlan } from './face-scan.ts';
import { modelSpecsFor, type ModelSpec } from './models.ts';
import { deidParamsFor, type DeidParams } from './params.ts';
import { providerChoice } from './providers.ts';
import { redactImageSample, type RedactedImage } from './redact.ts';

/** A loaded detector set and the call that redacts one image payload with it. */
export interface LocalRedactor {
  readonly specs: readonly ModelSpec[];
  readonly params: DeidParams;
  readonly detector: FrameDetector;
  /** Redacts one payload; with `plan`, as a frame of a stream whose face scan the plan schedules. */
  redact(
    sample: Pick<Sample, 'encoding' | 'schemaRef' | 'data'>,
    plan?: FaceScanPlan,
  ): Promise<RedactedImage>;
}

/** Loads (and digest-checks) the configured models in this thread. */
export async function loadLocalRedactor(options: {
  config: DeidConfig;
  intraOpThreads?: number;
}): Promise<LocalRedactor> {
  const specs = modelSpecsFor(options.config);
  const params = deidParamsFor(options.config);
  const detector = await FrameDetector.load({
    specs,
    params,
    intraOpThreads: options.intraOpThreads ?? 1,
    provider: providerChoice(options.config),
  });
  return {
    specs,
    params,
    detector,
    redact: (sample, plan) => redactImageSample(sample, { detector, params, plan }),
  };
}
