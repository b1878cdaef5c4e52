import { describe, expect, it } from 'vitest';
import { configSchema } from '../../../agent/config/schema.ts';
import type {
  CalibrationConfig,
  ChunkingConfig,
  DeidConfig,
  KeysConfig,
  OpsConfig,
  PolicyConfig,
  RigcapConfig,
  Ros2DiscoveryConfig,
  SpoolConfig,
  SyncConfig,
  TimesyncConfig,
} from '../../../agent/config/types.ts';

// Every key of the hand-written config types, checked by the compiler (Record<keyof T, true> with
// `satisfies` refuses extras and omissions); the test checks the same keys against the JSON Schema,
// so a key added to one and not the other fails typecheck or this test.
const keyTables = {
  '(root)': {
    version: true,
    rig: true,
    spool: true,
    keys: true,
    streams: true,
    ros2: true,
    chunking: true,
    policy: true,
    calibration: true,
    timesync: true,
    deid: true,
    sync: true,
    ops: true,
  } satisfies Record<keyof RigcapConfig, true>,
  rig: { id: true, description: true } satisfies Record<keyof RigcapConfig['rig'], true>,
  spool: { dir: true, budgetBytes: true, minFreeBytes: true, onBudget: true } satisfies Record<
    keyof SpoolConfig,
    true
  >,
  keys: { dir: true } satisfies Record<keyof KeysConfig, true>,
  ros2: {
    enabled: true,
    include: true,
    exclude: true,
    discoveryIntervalMs: true,
    nodeName: true,
  } satisfies Record<keyof Ros2DiscoveryConfig, true>,
  chunking: { maxBytes: true, maxDurationMs: true, zstdLevel: true, mcapChunkBytes: true } satisfies Record<
    keyof ChunkingConfig,
    true
  >,
  policy: {
    residency: true,
    retentionDays: true,
    purpose: true,
    owner: true,
    site: true,
    licence: true,
    legalBasis: true,
    geofencesFile: true,
    geofences: true,
    consentRef: true,
  } satisfies Record<keyof PolicyConfig, true>,
  calibration: { files: true, watchIntervalMs: true } satisfies Record<keyof CalibrationConfig, true>,
  timesync: {
    chrony: true,
    ptp: true,
    sampleIntervalMs: true,
    lockedMaxOffsetNs: true,
    chronycPath: true,
    pmcPath: true,
  } satisfies Record<keyof TimesyncConfig, true>,
  deid: {
    enabled: true,
    workers: true,
    executionProvider: true,
    fallbackToCpu: true,
    blur: true,
    marginRatio: true,
    jpegQuality: true,
    faceThreshold: true,
    faceSweepFrames: true,
    plateThreshold: true,
    timeoutMs: true,
    selfTestTimeoutMs: true,
    maxPending: true,
    mode: true,
    holdingBytes: true,
    holdingDrop: true,
    lookaheadFrames: true,
    customModels: true,
  } satisfies Record<keyof DeidConfig, true>,
  sync: {
    enabled: true,
    storeUrl: true,
    enrollToken: true,
    partBytes: true,
    bandwidthBytesPerSec: true,
    concurrency: true,
    backoffMinMs: true,
    backoffMaxMs: true,
    storeKeyFile: true,
    caFile: true,
    allowedRegions: true,
  } satisfies Record<keyof SyncConfig, true>,
  ops: { listen: true, heartbeatIntervalMs: true, controlEndpoint: true, watchdog: true } satisfies Record<
    keyof OpsConfig,
    true
  >,
};

/** The property names a config schema section states. */
function schemaKeys(section: string): string[] {
  const root = configSchema as { properties: Record<string, { properties?: object }> };
  const node = section === '(root)' ? root : root.properties[section];
  return Object.keys(node?.properties ?? {}).sort();
}

describe('config types and the config schema', () => {
  for (const [section, table] of Object.entries(keyTables)) {
    it(`${section}: the type names exactly the properties the schema states`, () => {
      expect(schemaKeys(section)).toEqual(Object.keys(table).sort());
    });
  }
});
