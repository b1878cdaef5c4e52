// Two signed sessions of one spool, built with the real RecordSealer from real parsed configs,
// differing only where the caller says (message definition, de-id threshold, params digest).
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { stringify } from 'yaml';
import { captureContext } from '../../../agent/config/capture-context.ts';
import { parseConfig } from '../../../agent/config/load.ts';
import { configSnapshot } from '../../../agent/config/snapshot.ts';
import { chunkFileName } from '../../../agent/records/index.ts';
import { simAgentConfig } from '../agent/sim-config.ts';
import { calibrationYaml, tinyMcap, type FixtureSpool } from './spool-fixture.ts';

export const imuDefinition = 'std_msgs/Header header\ngeometry_msgs/Quaternion orientation\n';
export const sha = (text: string): string => createHash('sha256').update(text).digest('hex');

/** Opens, fills (one chunk) and closes a session whose config carries the given policy and de-id threshold. */
export async function captureSession(
  spool: FixtureSpool,
  options: {
    sessionId: string;
    faceThreshold: number;
    imuDefinition: string;
    paramsDigest: string;
    /** Signed into the chunk record's policy (sync.allowedRegions). */
    allowedRegions?: string[];
  },
): Promise<void> {
  const base = simAgentConfig({
    spoolDir: spool.rootDir,
    keysDir: spool.keysDir,
    endpoint: 'tcp://127.0.0.1:5555',
    sensors: { frontCamera: false, rearCamera: false, lidar: false, tf: false },
  });
  const yaml = stringify({
    ...base,
    policy: {
      ...(base['policy'] as object),
      owner: 'Acme Robotics',
      licence: 'CC-BY-4.0',
      site: { id: 'depot-7', name: 'Depot 7, Lyon' },
      legalBasis: 'GDPR Art. 6(1)(f)',
      consentRef: 'DPA-2026-014',
    },
    deid: { enabled: false, faceThreshold: options.faceThreshold },
    sync: { enabled: false, enrollToken: 'a-secret-enrolment-token' },
  });
  const { config, digest } = parseConfig(yaml, { baseDir: dirname(spool.rootDir) });
  await spool.sealer.openSession({
    sessionId: options.sessionId,
    rigId: config.rig.id,
    startNs: 1_000_000_000n,
    context: captureContext(config),
    producer: { rigcapVersion: '0.2.0', configDigest: digest },
    config: configSnapshot(config),
  });
  const bytes = await tinyMcap({ seed: 1 });
  const chunkPath = join(spool.rootDir, 'sessions', options.sessionId, chunkFileName(1));
  await mkdir(dirname(chunkPath), { recursive: true });
  await writeFile(chunkPath, bytes);
  await spool.sealer.sealChunk({
    chunkPath,
    sha256: createHash('sha256').update(bytes).digest('hex'),
    bytes: bytes.byteLength,
    predicateFields: {
      sessionId: options.sessionId,
      chunkIndex: 1,
      startNs: '1000000000',
      endNs: '1002000000',
      streams: [
        {
          topic: '/imu/data',
          type: 'sensor_msgs/msg/Imu',
          count: 3,
          drops: {},
          upstreamLoss: 0,
          schemaSha256: sha(options.imuDefinition),
        },
        {
          topic: '/gnss/fix',
          type: 'sensor_msgs/msg/NavSatFix',
          count: 3,
          drops: {},
          upstreamLoss: 0,
          schemaSha256: sha('float64 latitude\n'),
        },
      ],
      timesync: {
        source: 'none',
        startNs: '1000000000',
        endNs: '1002000000',
        intervals: [],
        offsetNs: null,
        dispersionNs: null,
        samples: 0,
        steps: [],
        stateAtEnd: 'unsynced',
      },
      calibration: [{ sensor: 'cam0', digest: sha(calibrationYaml), version: 3 }],
      transforms: [
        {
          kind: 'de-identification',
          models: [{ name: 'faces', kind: 'face', sha256: sha('model') }],
          paramsDigest: options.paramsDigest,
        },
      ],
      producer: { rigcapVersion: '0.2.0', configDigest: digest },
      policy: {
        residency: 'test',
        retentionDays: 30,
        purpose: 'agent tests',
        owner: 'Acme Robotics',
        ...(options.allowedRegions === undefined ? {} : { allowedRegions: options.allowedRegions }),
      },
      context: captureContext(config),
    },
  });
  await spool.sealer.closeSession({ sessionId: options.sessionId, endNs: 1_002_000_000n, reason: 'test' });
}
