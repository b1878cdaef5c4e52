// De-id in the calling thread, for one-shot tools (`rigcap deid`, `rigcap selftest`, the bench's
// accuracy pass) where a worker pool would only add start-up time.
import type { Sample } from '../../drivers/types.ts';
import type { DeidConfig } from '../config/types.ts';
import { FrameDetector } from './detector.ts';
import { modelSpecsFor, type ModelSpec } from './models.ts';
import { deidParamsFor, type DeidParams } from './params.ts';
import { redactImageSample, type RedactedImage } from './redact.ts';

/** A loaded detector set and the call that redacts one image payload with it. */
export interface LocalRedactor {
  readonly specs: readonly ModelSpec[];
  readonly params: DeidParams;
  readonly detector: FrameDetector;
  redact(sample: Pick<Sample, 'encoding' | 'schemaRef' | 'data'>): Promise<RedactedImage>;
}

/** Loads (and digest-checks) the configured models in this thread. */
export async function loadLocalRedactor(options: { config: DeidConfig; intraOpThreads?: number }): Promise<LocalRedactor> {
  const specs = modelSpecsFor(options.config);
  const params = deidParamsFor(options.config);
  const detector = await FrameDetector.load({ specs, params, intraOpThreads: options.intraOpThreads ?? 1 });
  return { specs, params, detector, redact: (sample) => redactImageSample(sample, { detector, params }) };
}
