// Snapshot mode end to end: a stream keeps only its last preMs in memory and reaches chunks only
// around event markers; the window is recorded in the signed chunk record.
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Push } from 'zeromq';
import { afterEach, describe, expect, it } from 'vitest';
import { Agent } from '../../../agent/agent.ts';
import { parseConfig } from '../../../agent/config/load.ts';
import { silentLogger } from '../../../agent/log.ts';
import { encodeFrame } from '../../../drivers/zmq/frame.ts';
import { delay, waitFor } from '../../support/wait.ts';

let dir: string | undefined;
afterEach(async () => {
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

describe('snapshot mode', () => {
  it('writes only the window around a marker, counts the rest, and records the window', async () => {
    dir = await mkdtemp(join(tmpdir(), 'rigcap-snapshot-'));
    const endpoint = `ipc://${join(dir, 'in.sock')}`;
    const { config, digest } = parseConfig(
      JSON.stringify({
        version: 1,
        rig: { id: 'snap-rig' },
        spool: { dir: join(dir, 'spool') },
        keys: { dir: join(dir, 'secrets') },
        timesync: { chrony: false },
        ops: { listen: '' },
        streams: [
          {
            name: 'cam',
            driver: 'zmq',
            endpoint,
            socket: 'pull',
            bind: true,
            topic: '/cam',
            type: 'std_msgs/msg/String',
            snapshot: { preMs: 300, postMs: 300 },
          },
          {
            name: 'imu',
            driver: 'zmq',
            endpoint,
            socket: 'pull',
            bind: true,
            topic: '/imu',
            type: 'sensor_msgs/msg/Imu',
          },
        ],
      }),
      { baseDir: dir },
    );
    const agent = new Agent({ config, configDigest: digest, log: silentLogger() });
    await agent.start(new AbortController().signal);
    const push = new Push();
    push.connect(endpoint);
    let seq = 0;
    const send = async (topic: string): Promise<void> => {
      await push.send(
        encodeFrame(
          topic,
          {
            seq: topic === '/cam' ? seq++ : 0,
            captureNs: BigInt(Date.now()) * 1_000_000n,
            encoding: 'cdr',
            type: topic === '/cam' ? 'std_msgs/msg/String' : 'sensor_msgs/msg/Imu',
            latched: false,
          },
          new Uint8Array(100),
        ),
      );
    };
    // 1.5 s of frames every 50 ms, a marker in the middle.
    for (let i = 0; i < 30; i++) {
      await send('/cam');
      if (i === 0) await send('/imu');
      if (i === 15)
        await agent.addMarker({
          id: 'm1',
          text: 'pothole',
          tags: [],
          wallNs: BigInt(Date.now()) * 1_000_000n,
          metadata: { name: 'rigcap.marker', metadata: { text: 'pothole' } },
        });
      // The camera's frame period: the stimulus, not a wait for a state.
      await delay(50);
    }
    await waitFor(
      () =>
        agent.ledger.totals().get('cam')?.received === 30 && agent.ledger.totals().get('imu')?.received === 1,
      { what: 'the agent to receive the 30 frames and the IMU sample', timeoutMs: 60_000 },
    );
    push.close();
    await agent.stop();

    const cam = agent.ledger.totals().get('cam')!;
    expect(cam.received).toBe(30);
    // ~300 ms before and after the marker at 50 ms spacing: about 13 frames on an idle machine (fewer
    // when the sender is slowed down), never all 30 — frames far from the marker are never written.
    expect(cam.written).toBeGreaterThan(0);
    expect(cam.written).toBeLessThan(25);
    // Everything not written is accounted for: evicted from the ring, or still held at stop.
    expect(cam.written + (cam.drops.snapshot_window ?? 0)).toBe(30);
    expect(cam.drops.snapshot_window).toBeGreaterThan(0);
    expect(agent.ledger.totals().get('imu')?.written).toBe(1);

    const sessionDir = join(dir, 'spool', 'sessions', agent.sessionId!);
    const sidecars = (await readdir(sessionDir)).filter((f) => f.endsWith('.mcap.dsse.json'));
    const transforms = [];
    for (const f of sidecars) {
      const env = JSON.parse(await readFile(join(sessionDir, f), 'utf8')) as { payload: string };
      const st = JSON.parse(Buffer.from(env.payload, 'base64').toString('utf8')) as {
        predicate: {
          transforms: Array<{
            kind: string;
            stream?: string;
            windows?: Array<{ markerIds: string[]; items: number }>;
          }>;
        };
      };
      transforms.push(...st.predicate.transforms);
    }
    const windows = transforms.filter((t) => t.kind === 'snapshot-window');
    expect(windows.length).toBeGreaterThan(0);
    expect(windows[0]).toMatchObject({ stream: 'cam', preMs: 300, postMs: 300 });
    expect(windows.flatMap((w) => w.windows ?? []).find((w) => w.markerIds.includes('m1'))?.items).toBe(
      cam.written,
    );
  });
});
