// A store for dashboard tests: a sim-rig capture by the real agent (with a marker whose label needs
// escaping), synced through a real receiver, plus the signed records of a second device from the
// readiness fixture (drops and an unsynced clock; its chunk files are not in the store).
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { Agent } from '../../../agent/agent.ts';
import { parseConfig } from '../../../agent/config/load.ts';
import { silentLogger } from '../../../agent/log.ts';
import { markMetadata } from '../../../agent/ops/markers.ts';
import { openSyncService, syncUntilEmpty } from '../../../agent/sync/sync-service.ts';
import { startReceiver } from '../../../receiver/server.ts';
import { startSimRig, simTopics } from '../../../scripts/sim-rig/index.ts';
import { buildSession, fixtureSessionId, writeStore } from '../../support/readiness-fixture.ts';
import { simAgentConfig } from '../agent/sim-config.ts';

export const markerLabel = 'pedestrian <b>&</b> "cone"';
export { fixtureSessionId };

export interface SimStore {
  dir: string;
  store: string;
  spool: string;
  sessionId: string;
  remove(): Promise<void>;
}

const sensors = { frontCamera: true, rearCamera: false, lidar: true, imu: true, gnss: false, tf: false };
const calibDir = join(import.meta.dirname, '..', '..', '..', 'config', 'calibration', 'sim');
const token = 'enrol-token-0123456789';

/** Captures ~2 s from the sim rig, syncs it to a fresh store and adds the fixture device's records. */
export async function buildSimStore(): Promise<SimStore> {
  const dir = await mkdtemp(join(tmpdir(), 'rigcap-ui-'));
  const spool = join(dir, 'spool');
  const store = join(dir, 'store');
  const receiver = await startReceiver({
    dataDir: store,
    host: '127.0.0.1',
    port: 0,
    enrollTokens: [token],
    log: silentLogger(),
  });
  let sessionId = '';
  try {
    const rig = await startSimRig({
      endpoint: 'tcp://127.0.0.1:0',
      socket: 'push',
      sensors,
      camera: { width: 160, height: 96, frames: 2 },
      lidar: { points: 2000 },
      ratesHz: Object.fromEntries(simTopics.map((t) => [t.topic, 40])),
      messagesPerTopic: 60,
      waitForSubscribers: 0,
    });
    const config = {
      ...simAgentConfig({
        spoolDir: spool,
        keysDir: join(dir, 'secrets'),
        endpoint: rig.endpoint,
        socket: 'pull',
        sensors,
      }),
      calibration: {
        files: ['cam_front.yaml', 'imu.yaml', 'lidar.yaml'].map((f) => join(calibDir, f)),
        watchIntervalMs: 0,
      },
      sync: {
        enabled: false,
        storeUrl: receiver.url,
        enrollToken: token,
        storeKey: receiver.key.signer.keyId,
        backoffMinMs: 50,
        backoffMaxMs: 500,
      },
    };
    const parsed = parseConfig(stringify(config), { baseDir: dir });
    const agent = new Agent({ config: parsed.config, configDigest: parsed.digest, log: silentLogger() });
    try {
      await agent.start(new AbortController().signal);
      await new Promise((r) => setTimeout(r, 600));
      const mark = {
        id: 'm1',
        text: markerLabel,
        tags: ['near-miss'],
        source: 'cli' as const,
        wallNs: BigInt(Date.now()) * 1_000_000n,
        monoNs: process.hrtime.bigint(),
      };
      const meta = markMetadata(mark);
      await agent.addMarker({
        ...mark,
        metadata: { name: meta.name, metadata: Object.fromEntries(meta.metadata) },
      });
      await rig.done;
      await new Promise((r) => setTimeout(r, 500));
      await agent.stop();
      sessionId = agent.sessionId!;
    } finally {
      await agent.destroy();
      await rig.stop();
    }
    const service = openSyncService({ sync: parsed.config.sync, spoolDir: spool, log: silentLogger() });
    const drained = await syncUntilEmpty({ service, timeoutMs: 60_000 });
    await service.close();
    if (!drained.empty) throw new Error('sync did not drain');
  } finally {
    await receiver.close();
  }
  const fixture = await writeStore(buildSession({ drops: true, unsynced: true }));
  await cp(join(fixture, 'records'), join(store, 'records'), { recursive: true });
  await rm(fixture, { recursive: true, force: true });
  return { dir, store, spool, sessionId, remove: () => rm(dir, { recursive: true, force: true }) };
}
