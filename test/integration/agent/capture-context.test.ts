// The whole Agent on the sim rig signs its capture context: the session-open record carries the
// context, producer and the secret-free config snapshot whose digest is configDigest; every chunk
// record carries the context, the sensor identity and each stream's message-definition digest.
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterEach, describe, expect, it } from 'vitest';
import { Agent } from '../../../agent/agent.ts';
import { parseConfig } from '../../../agent/config/load.ts';
import { silentLogger } from '../../../agent/log.ts';
import { canonicalText } from '../../../agent/records/index.ts';
import { startSimRig, type SimRig } from '../../../scripts/sim-rig/index.ts';
import { simAgentConfig } from './sim-config.ts';

let dir: string | undefined;
let rig: SimRig | undefined;
let agent: Agent | undefined;
afterEach(async () => {
  await agent?.destroy();
  await rig?.stop();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  dir = rig = agent = undefined;
});

type Statement = { predicateType: string; predicate: Record<string, unknown> };
const statementsOf = (text: string): Statement[] =>
  text
    .trim()
    .split('\n')
    .map(
      (l) =>
        JSON.parse(
          Buffer.from((JSON.parse(l) as { payload: string }).payload, 'base64').toString(),
        ) as Statement,
    );

describe('capture context through the agent', () => {
  it('signs context, sensor identity, config snapshot and message-definition digests', async () => {
    dir = await mkdtemp(join(tmpdir(), 'rigcap-context-'));
    const sensors = { frontCamera: false, rearCamera: false, lidar: false, imu: true, gnss: true, tf: false };
    rig = await startSimRig({
      endpoint: 'tcp://127.0.0.1:0',
      socket: 'push',
      sensors,
      messagesPerTopic: 40,
      waitForSubscribers: 0,
    });
    const base = simAgentConfig({
      spoolDir: join(dir, 'spool'),
      keysDir: join(dir, 'secrets'),
      endpoint: rig.endpoint,
      socket: 'pull',
      sensors,
    });
    const streams = (base['streams'] as Array<Record<string, unknown>>).map((s) =>
      s['type'] === 'sensor_msgs/msg/Imu' ? { ...s, sensor: { serial: 'IMU-0042', firmware: '2.3.1' } } : s,
    );
    const yaml = stringify({
      ...base,
      streams,
      policy: {
        ...(base['policy'] as object),
        owner: 'Acme Robotics',
        site: { id: 'depot-7', name: 'Depot 7' },
        licence: 'CC-BY-NC-4.0',
        legalBasis: 'GDPR Art. 6(1)(f)',
        consentRef: 'DPA-2026-014',
        // The sim rig's GNSS circles Munich (48.137 N, 11.576 E): this fence holds its whole path.
        geofences: [
          {
            id: 'munich-depot',
            polygon: {
              type: 'Polygon',
              coordinates: [
                [
                  [11.5, 48.1],
                  [11.7, 48.1],
                  [11.7, 48.2],
                  [11.5, 48.2],
                  [11.5, 48.1],
                ],
              ],
            },
          },
        ],
      },
      sync: { enabled: false, enrollToken: 'never-in-a-record-0123', allowedRegions: ['eu-west'] },
    });
    const { config, digest } = parseConfig(yaml, { baseDir: dir });
    agent = new Agent({ config, configDigest: digest, log: silentLogger() });
    await agent.start(new AbortController().signal);
    await rig.done;
    const a = agent;
    for (const until = Date.now() + 20_000; Date.now() < until;) {
      const written = config.streams.reduce((n, s) => n + (a.ledger.totals().get(s.name)?.written ?? 0), 0);
      if (written >= 80) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    await a.stop();
    const sessionDir = join(config.spool.dir, 'sessions', a.sessionId!);
    const sessionText = await readFile(join(sessionDir, 'session.dsse.json'), 'utf8');
    expect(sessionText).not.toContain('never-in-a-record');
    const [open] = statementsOf(sessionText);
    expect(open!.predicateType).toBe('https://rigcap.dev/session/v2');
    const context = {
      owner: 'Acme Robotics',
      site: { id: 'depot-7', name: 'Depot 7' },
      licence: 'CC-BY-NC-4.0',
      legalBasis: 'GDPR Art. 6(1)(f)',
      consentRef: 'DPA-2026-014',
      purpose: 'agent tests',
      sensors: [
        {
          stream: streams.find((s) => s['type'] === 'sensor_msgs/msg/Imu')!['name'],
          serial: 'IMU-0042',
          firmware: '2.3.1',
        },
      ],
    };
    expect(open!.predicate['context']).toEqual(context);
    expect(open!.predicate['producer']).toMatchObject({ configDigest: digest });
    const snapshot = open!.predicate['config'] as { sync: { enrollToken: string } };
    expect(snapshot.sync.enrollToken).toBe('(removed)');
    expect(createHash('sha256').update(canonicalText(snapshot)).digest('hex')).toBe(digest);

    const sidecars = (await readdir(sessionDir)).filter((f) => f.endsWith('.mcap.dsse.json'));
    expect(sidecars.length).toBeGreaterThan(0);
    let chunksWithFixes = 0;
    for (const f of sidecars) {
      const [chunk] = statementsOf(await readFile(join(sessionDir, f), 'utf8'));
      expect(chunk!.predicateType).toBe('https://rigcap.dev/capture-chunk/v2');
      expect(chunk!.predicate['context']).toEqual(context);
      expect(chunk!.predicate['policy']).toMatchObject({
        allowedRegions: ['eu-west'],
        owner: 'Acme Robotics',
      });
      expect(chunk!.predicate['outsideGeofences']).toEqual([]);
      const gnss = (chunk!.predicate['streams'] as Array<{ topic: string; count: number }>).find(
        (x) => x.topic.includes('gnss') && x.count > 0,
      );
      if (gnss !== undefined) {
        expect(chunk!.predicate['regions']).toEqual(['munich-depot']);
        chunksWithFixes += 1;
      }
      expect(JSON.stringify(chunk!.predicate)).not.toContain('48.1');
      const summaries = chunk!.predicate['streams'] as Array<{ count: number; schemaSha256?: string }>;
      for (const s of summaries.filter((x) => x.count > 0)) expect(s.schemaSha256).toMatch(/^[0-9a-f]{64}$/);
    }
    expect(chunksWithFixes).toBeGreaterThan(0);
  });
});
