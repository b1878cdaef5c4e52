// Which onnxruntime execution provider runs the de-id models: the CPU (any build), or CUDA /
// TensorRT on a Jetson whose onnxruntime build has them. A configured GPU provider that cannot load
// fails closed at start-up; only `deid.fallbackToCpu: true` lets the models run on the CPU instead.
import { InferenceSession } from 'onnxruntime-node';
import { RigcapError } from '../errors.ts';

export type ExecutionProviderName = 'cpu' | 'cuda' | 'tensorrt';

/** The config's choice (deid.executionProvider, deid.fallbackToCpu). */
export interface ExecutionProviderChoice {
  readonly executionProvider: ExecutionProviderName;
  readonly fallbackToCpu: boolean;
}

export const cpuProvider: ExecutionProviderChoice = { executionProvider: 'cpu', fallbackToCpu: false };

/** What a session runs on, and why when it is not what was configured. */
export interface ProviderInUse {
  readonly configured: ExecutionProviderName;
  readonly provider: ExecutionProviderName;
  /** Set when the configured provider could not load and the CPU took over (fallbackToCpu). */
  readonly fallbackReason?: string;
}

/**
 * onnxruntime's provider list for a choice. Nodes a GPU provider cannot run go to the next one
 * (TensorRT → CUDA → CPU): that is onnxruntime's per-operator placement, not a fallback of the session.
 */
export function providerList(name: ExecutionProviderName): string[] {
  if (name === 'tensorrt') return ['tensorrt', 'cuda', 'cpu'];
  if (name === 'cuda') return ['cuda', 'cpu'];
  return ['cpu'];
}

/** Creates a session on the chosen provider; throws RIGCAP_DEID_PROVIDER_UNAVAILABLE when it cannot load. */
export async function createInferenceSession(
  bytes: Uint8Array,
  sessionOptions: InferenceSession.SessionOptions & { provider?: ExecutionProviderChoice | undefined },
): Promise<{ session: InferenceSession; inUse: ProviderInUse }> {
  const { provider: choice = cpuProvider, ...options } = sessionOptions;
  const configured = choice.executionProvider;
  if (configured === 'cpu') {
    const session = await InferenceSession.create(bytes, { ...options, executionProviders: ['cpu'] });
    return { session, inUse: { configured, provider: 'cpu' } };
  }
  let reason: string;
  try {
    const session = await InferenceSession.create(bytes, {
      ...options,
      executionProviders: providerList(configured),
    });
    return { session, inUse: { configured, provider: configured } };
  } catch (err) {
    reason = err instanceof Error ? err.message : String(err);
  }
  if (!choice.fallbackToCpu)
    throw new RigcapError(
      'RIGCAP_DEID_PROVIDER_UNAVAILABLE',
      `onnxruntime execution provider '${configured}' does not load here (${reason}); de-id stays off rather than run elsewhere`,
    );
  const session = await InferenceSession.create(bytes, { ...options, executionProviders: ['cpu'] });
  return { session, inUse: { configured, provider: 'cpu', fallbackReason: reason } };
}

/** One line for selftest and logs: "cuda", or "cpu (fallback from cuda: …)". */
export function describeProvider(inUse: ProviderInUse): string {
  return inUse.fallbackReason === undefined
    ? inUse.provider
    : `${inUse.provider} (fallback from ${inUse.configured}: ${inUse.fallbackReason})`;
}

/** The choice a de-id config makes (CPU when it names none). */
export function providerChoice(config: {
  readonly executionProvider?: ExecutionProviderName;
  readonly fallbackToCpu?: boolean;
}): ExecutionProviderChoice {
  return {
    executionProvider: config.executionProvider ?? 'cpu',
    fallbackToCpu: config.fallbackToCpu ?? false,
  };
}
