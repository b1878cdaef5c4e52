// Messages between the de-id worker pool and its worker threads (structured-clone safe).
import type { FaceScanContext, FaceScanPlan, FaceScanReport, FrameSignature } from './face-scan.ts';
import type { Detection } from './geometry.ts';
import type { FrameFill } from './track-fill.ts';
import type { ModelSpec } from './models.ts';
import type { DeidParams } from './params.ts';
import type { ExecutionProviderChoice } from './providers.ts';

/** What a worker is started with. */
export interface WorkerInit {
  readonly specs: readonly ModelSpec[];
  readonly params: DeidParams;
  readonly intraOpThreads: number;
  /** onnxruntime execution provider (CPU when absent). */
  readonly provider?: ExecutionProviderChoice;
  /**
   * Redact this JPEG once before answering `ready`, untimed: a session's first run (graph
   * optimisation, allocation) is many times slower than the next, and no frame should pay for it.
   */
  readonly warmUpJpeg?: Uint8Array;
}

/** An error as it crosses the thread boundary. */
export interface WorkerError {
  readonly code: string;
  readonly message: string;
}

/** Pool → worker: redact one image payload. */
export interface JobRequest {
  readonly type: 'job';
  readonly id: number;
  readonly encoding: string;
  readonly schemaRef: string;
  readonly data: Uint8Array;
  /** The stream's face scan plan for this frame; absent = scan the whole frame. */
  readonly plan?: FaceScanPlan;
}

/** Pool → worker: the answer to a job's question about the frames before it (see FaceScanPeer). */
export type JobAnswer =
  | { readonly type: 'reference'; readonly id: number; readonly reference: FrameSignature | null }
  | { readonly type: 'context'; readonly id: number; readonly context: FaceScanContext }
  | { readonly type: 'fill'; readonly id: number; readonly fill: FrameFill };

/**
 * Pool → worker: take no more frames; finish the call in progress, fail the frames waiting for
 * answers, and exit once none is left (the pool no longer listens to this worker).
 */
export interface RetireRequest {
  readonly type: 'retire';
}

/** Everything the pool sends a worker after its start. */
export type PoolMessage = JobRequest | JobAnswer | RetireRequest;

/** Worker → pool. */
export type WorkerReply =
  | { readonly type: 'ready' }
  | { readonly type: 'init-error'; readonly error: WorkerError }
  | {
      readonly type: 'result';
      readonly id: number;
      readonly data: Uint8Array;
      readonly detections: readonly Detection[];
      readonly faceScan?: FaceScanReport;
      readonly ms: number;
    }
  | { readonly type: 'job-error'; readonly id: number; readonly error: WorkerError }
  /** The job's frame thumbnail, early, for the frame after it. */
  | { readonly type: 'signature'; readonly id: number; readonly signature: FrameSignature }
  /** What the job's frame found, before its blur and encode, for the frames after it. */
  | { readonly type: 'report'; readonly id: number; readonly report: FaceScanReport }
  /** The job needs what the frames before it know. */
  | { readonly type: 'ask'; readonly id: number; readonly need: 'reference' | 'context' | 'fill' };
