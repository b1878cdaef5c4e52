import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Push } from 'zeromq';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfigFile } from '../../../agent/config/load.ts';
import { Daemon } from '../../../agent/daemon.ts';
import { silentLogger } from '../../../agent/log.ts';
import { encodeFrame } from '../../../drivers/zmq/frame.ts';
import { runCli } from '../../support/cli.ts';
import { waitFor } from '../../support/wait.ts';

let dir: string | undefined;
afterEach(async () => {
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

describe('rigcap status', () => {
  it('reports the running agent from its ops endpoint, then the spool once it stopped', async () => {
    dir = await mkdtemp(join(tmpdir(), 'rigcap-status-'));
    const endpoint = `ipc://${join(dir, 'in.sock')}`;
    const file = join(dir, 'rigcap.yaml');
    await writeFile(
      file,
      [
        'version: 1',
        'rig: { id: status-rig }',
        'spool: { dir: spool }',
        'keys: { dir: secrets }',
        'timesync: { chrony: false }',
        'ops: { listen: "127.0.0.1:0" }',
        'streams:',
        `  - { name: imu, driver: zmq, endpoint: "${endpoint}", socket: pull, bind: true, topic: /imu, type: sensor_msgs/msg/Imu }`,
      ].join('\n'),
    );
    const { config, digest } = loadConfigFile(file);
    const daemon = new Daemon({ config, configDigest: digest, log: silentLogger(), env: {} });
    await daemon.start(new AbortController().signal);
    const push = new Push();
    push.connect(endpoint);
    // one gap in seq (3 missing) so upstream loss shows under its cause
    for (const seq of [0, 1, 2, 6, 7]) {
      await push.send(
        encodeFrame(
          '/imu',
          {
            seq,
            captureNs: BigInt(Date.now()) * 1_000_000n,
            encoding: 'cdr',
            type: 'sensor_msgs/msg/Imu',
            latched: false,
          },
          new Uint8Array(64),
        ),
      );
    }
    await push.send(
      encodeFrame(
        '/nobody/listens',
        { seq: 0, captureNs: 1n, encoding: 'cdr', type: 'std_msgs/msg/String', latched: false },
        new Uint8Array(4),
      ),
    );
    await waitFor(
      () =>
        (daemon.agent.ledger.totals().get('imu')?.written ?? 0) >= 5 &&
        daemon.agent.ledger.unattributed.unknown_topic !== undefined,
      { what: 'five IMU samples written and the unknown topic counted', timeoutMs: 60_000, everyMs: 50 },
    );

    const live = await runCli(['status', '--url', daemon.url!, '--json']);
    expect(live.code).toBe(0);
    const running = JSON.parse(live.stdout) as {
      running: boolean;
      streams: Array<{ name: string; received: number; drops: Record<string, number> }>;
      unattributedDrops: Record<string, number>;
      session: { id: string };
    };
    expect(running.running).toBe(true);
    expect(running.unattributedDrops).toEqual({ unknown_topic: 1 });
    expect(running.streams.find((s) => s.name === 'imu')).toMatchObject({
      received: 5,
      drops: { upstream_loss: 3 },
    });
    const human = await runCli(['status', '--url', daemon.url!]);
    expect(human.stdout).toMatch(/imu .* upstream_loss=3/);
    expect(human.stdout).toMatch(/\(no stream\) .* unknown_topic=1/);

    push.close();
    await daemon.stop();
    const offline = await runCli(['status', '--config', file, '--json']);
    expect(offline.code).toBe(0);
    const spool = JSON.parse(offline.stdout) as {
      running: boolean;
      session: { id: string; chunks: number };
      sync: { backlogChunks: number; lastReceiptAt: string | null };
    };
    expect(spool).toMatchObject({
      running: false,
      session: { id: running.session.id, chunks: 1 },
      sync: { backlogChunks: 1, lastReceiptAt: null },
    });
  });
});
