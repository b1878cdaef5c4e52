// A small agent config for the sim rig, shared by the agent-level integration and process tests:
// few sensors, low rates, no chrony, no calibration files, cameras exempt from de-id (de-id has its
// own tests), small chunks so commits happen often.
import { stringify } from 'yaml';
import { simRigStreams, type SimSensor, type SimStreamConfigEntry } from '../../../scripts/sim-rig/index.ts';

export interface SimAgentConfigOptions {
  spoolDir: string;
  keysDir: string;
  /** The rig's endpoint (the agent connects). */
  endpoint: string;
  socket?: 'sub' | 'pull';
  sensors?: Partial<Record<SimSensor, boolean>>;
  chunking?: {
    maxBytes?: number | string;
    maxDurationMs?: number;
    mcapChunkBytes?: number | string;
    zstdLevel?: number;
  };
  /** Applied to every stream's queue. */
  queue?: Partial<SimStreamConfigEntry['queue']>;
  /** Applied to every stream (a queue's maxBytes may not be below it). */
  maxMessageBytes?: number;
  /** `ops.listen`; '' (the default here) disables the endpoint. */
  listen?: string;
  /** Streams added after the rig's (raw config entries). */
  extraStreams?: ReadonlyArray<Record<string, unknown>>;
  /** Per-stream overrides by stream name. */
  streamOverrides?: Readonly<Record<string, Partial<SimStreamConfigEntry>>>;
}

/** The config as a plain object (what parseConfig accepts once stringified). */
export function simAgentConfig(options: SimAgentConfigOptions): Record<string, unknown> {
  const streams = simRigStreams({
    endpoint: options.endpoint,
    socket: options.socket ?? 'sub',
    ...(options.sensors === undefined ? {} : { sensors: options.sensors }),
  }).map((s) => ({
    ...s,
    deid: { ...s.deid, exempt: true },
    queue: { ...s.queue, ...options.queue },
    ...(options.maxMessageBytes === undefined ? {} : { maxMessageBytes: options.maxMessageBytes }),
    ...options.streamOverrides?.[s.name],
  }));
  return {
    version: 1,
    rig: { id: 'agent-test-rig', description: 'agent-level tests on the sim rig' },
    spool: { dir: options.spoolDir, minFreeBytes: '16MiB' },
    keys: { dir: options.keysDir },
    streams: [...streams, ...(options.extraStreams ?? [])],
    chunking: {
      maxBytes: '512KiB',
      maxDurationMs: 700,
      zstdLevel: 1,
      mcapChunkBytes: '64KiB',
      ...options.chunking,
    },
    policy: { residency: 'test', retentionDays: 30, purpose: 'agent tests' },
    calibration: { files: [], watchIntervalMs: 0 },
    timesync: { chrony: false, ptp: false },
    deid: { enabled: false },
    sync: { enabled: false },
    ops: { listen: options.listen ?? '', heartbeatIntervalMs: 60_000, watchdog: false },
  };
}

/** The same config as YAML text. */
export function simAgentConfigYaml(options: SimAgentConfigOptions): string {
  return stringify(simAgentConfig(options));
}
