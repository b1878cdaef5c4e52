// Bad input never stops `rigcap run`: while it captures the sim rig, a second publisher sends broken
// multipart messages, an unknown topic, garbage CDR, a type mismatch, an oversize payload and a
// 100 MB frame. The daemon keeps answering /status.json, keeps capturing, counts every drop under
// its cause, and still stops cleanly with a spool that verifies. A bad config exits 2 with a code.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as zmq from 'zeromq';
import { afterEach, describe, expect, it } from 'vitest';
import type { AgentSnapshot, StreamSnapshot } from '../../../agent/ops/snapshot.ts';
import { startSimRig, type SimRig } from '../../../scripts/sim-rig/index.ts';
import { simAgentConfigYaml } from '../../integration/agent/sim-config.ts';
import { killDaemon, startDaemon, writeDaemonConfig, type Daemon } from '../../support/daemon.ts';
import { checkSpool } from '../../support/spool-check.ts';

const sensors = {
  frontCamera: false,
  rearCamera: false,
  lidar: false,
  imu: true,
  gnss: false,
  tf: true,
} as const;
const probeTopic = '/probe/imu';
const imuType = 'sensor_msgs/msg/Imu';

let dir: string | undefined;
let rig: SimRig | undefined;
let child: Daemon | undefined;
let sender: zmq.Push | undefined;
afterEach(async () => {
  sender?.close();
  await killDaemon(child);
  await rig?.stop();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  dir = undefined;
  rig = undefined;
  child = undefined;
  sender = undefined;
});

function header(seq: number, fields: Record<string, unknown> = {}): Buffer {
  return Buffer.from(
    JSON.stringify({
      seq,
      captureNs: String(BigInt(Date.now()) * 1_000_000n),
      encoding: 'cdr',
      type: imuType,
      ...fields,
    }),
  );
}

/** CDR-looking bytes whose header stamp decodes to `sec` (little endian), then noise. */
function garbageCdr(sec: number, length: number): Buffer {
  const b = Buffer.alloc(length);
  for (let i = 0; i < length; i++) b[i] = (i * 131 + 7) & 0xff;
  if (length >= 8) {
    b[0] = 0;
    b[1] = 1;
    b.writeInt32LE(sec, 4);
  }
  return b;
}

describe('rigcap run with bad input', () => {
  it(
    'stays up, keeps capturing and counts every bad message under its cause',
    { timeout: 120_000 },
    async () => {
      dir = await mkdtemp(join(tmpdir(), 'rigcap-agent-badinput-'));
      const spool = join(dir, 'spool');
      const probeEndpoint = `ipc://${join(dir, 'probe.sock')}`;
      rig = await startSimRig({
        endpoint: 'tcp://127.0.0.1:0',
        sensors,
        ratesHz: { '/imu/data': 100, '/tf': 20, '/tf_static': 1 },
      });
      const configFile = await writeDaemonConfig(
        join(dir, 'rigcap.yaml'),
        simAgentConfigYaml({
          spoolDir: spool,
          keysDir: join(dir, 'secrets'),
          endpoint: rig.endpoint,
          sensors,
          listen: '127.0.0.1:0',
          // The probe stream has its own PULL socket (bound by the agent), so the 100 MB frame only
          // costs that connection; it reads capture time from the CDR header so garbage stamps reach the writer.
          extraStreams: [
            {
              name: 'probe',
              driver: 'zmq',
              endpoint: probeEndpoint,
              socket: 'pull',
              bind: true,
              topic: probeTopic,
              type: imuType,
              encoding: 'cdr',
              headerTime: true,
              maxMessageBytes: '1MiB',
              queue: { size: 64, maxBytes: '4MiB' },
            },
          ],
        }),
      );
      child = startDaemon(configFile);
      await child.waitForLog((l) => l.msg === 'capture started', { what: 'capture started' });

      sender = new zmq.Push({ linger: 2000 });
      sender.connect(probeEndpoint);
      const send = (frames: Array<Buffer | Uint8Array>): Promise<void> => sender!.send(frames);
      const topic = Buffer.from(probeTopic);
      let seq = 0;
      await send([topic, header(seq++), garbageCdr(1_700_000_000, 64)]); // a good one first: the seq baseline
      await send([topic, header(seq++)]); // 2 frames
      await send([topic, header(seq++), Buffer.alloc(8), Buffer.alloc(8)]); // 4 frames
      await send([Buffer.from('bad topic!'), header(seq++), Buffer.alloc(8)]); // topic not in the wire charset
      await send([topic, Buffer.from('{"seq": 4, "captureNs": '), Buffer.alloc(8)]); // header not JSON
      await send([
        topic,
        Buffer.from(JSON.stringify({ seq: 'five', captureNs: '1', encoding: 'cdr', type: imuType })),
        Buffer.alloc(8),
      ]); // bad field
      await send([topic, Buffer.alloc(5000, 0x7b), Buffer.alloc(8)]); // header too large
      await send([Buffer.from('/nobody/listens'), header(0), Buffer.alloc(8)]); // unknown topic
      // Garbage CDR is not decoded by the agent: it is stored as sent, whatever its header stamp says.
      const garbage = [
        garbageCdr(-5, 96),
        garbageCdr(0x7fffffff, 96),
        garbageCdr(1_700_000_000, 3),
        Buffer.alloc(0),
        garbageCdr(-2_000_000_000, 40),
      ];
      let goodSeq = 1;
      for (const g of garbage) await send([topic, header(goodSeq++), g]);
      await send([topic, header(goodSeq++, { type: 'std_msgs/msg/String' }), garbageCdr(1_700_000_000, 64)]); // type mismatch
      await send([topic, header(goodSeq++), garbageCdr(1_700_000_000, 1_200_000)]); // over maxMessageBytes (1 MiB) but under the socket limit
      const before = await child.status();
      // 100 MB: over the socket's frame limit, so ZeroMQ drops the connection before buffering it; the
      // publisher reconnects and the next message's seq gap counts it as upstream loss.
      await send([topic, header(goodSeq++), Buffer.alloc(100 * 1024 * 1024, 0x55)]);
      await send([topic, header(goodSeq++), garbageCdr(1_700_000_000, 64)]);

      const probe = (s: AgentSnapshot): StreamSnapshot | undefined =>
        s.streams.find((x) => x.name === 'probe');
      const withLoss = await child.waitForStatus((s) => (probe(s)?.drops['upstream_loss'] ?? 0) >= 1, {
        what: 'the probe stream to count the lost 100 MB frame (upstream_loss)',
      });
      const probeDrops = probe(withLoss)!;
      expect(probeDrops.drops).toEqual({
        malformed_frame: 3,
        type_mismatch: 1,
        oversize: 1,
        upstream_loss: 1,
      });
      // The first good message, the five garbage payloads and the one after the 100 MB frame.
      expect(probeDrops.received).toBe(7);

      // Capture of the rig goes on: more IMU samples and more sealed chunks than before the bad input.
      const imuReceived = (s: AgentSnapshot): number =>
        s.streams.find((x) => x.name === 'imu')?.received ?? 0;
      const after = await child
        .waitForStatus(
          (s) => imuReceived(s) > imuReceived(before) + 100 && s.session.chunks > before.session.chunks + 1,
          { what: 'capture to continue (more IMU samples, two more chunks)' },
        )
        .catch((err: unknown) => {
          console.log(
            child!.logs
              .filter((l) => (l.level ?? 0) >= 40 || /chunk/.test(String(l.msg)))
              .map((l) => JSON.stringify(l).slice(0, 400))
              .join('\n'),
          );
          throw err;
        });
      expect(after.streams.find((x) => x.name === 'imu')?.drops).toEqual({});

      const exit = await child.stop({ signal: 'SIGTERM', timeoutMs: 60_000 });
      expect(exit, child.tail()).toEqual({ code: 0, signal: null });
      // Drops that name no configured stream are counted by the driver (logged with its stats on close).
      const closed = child.logs.find(
        (l) => l.msg === 'zmq driver closed' && String(l['driver']).includes('probe.sock'),
      );
      expect(
        (closed?.['stats'] as { unattributed?: Record<string, number> } | undefined)?.unattributed,
      ).toEqual({ malformed_frame: 3, unknown_topic: 1 });

      const check = await checkSpool(spool);
      expect(check.chunkProblems).toEqual([]);
      expect(check.quarantined).toEqual([]);
      expect(check.verify.failures).toEqual([]);
    },
  );

  it('refuses a bad config with exit code 2, RIGCAP_CONFIG_INVALID and the path of each problem', async () => {
    dir = await mkdtemp(join(tmpdir(), 'rigcap-agent-badconfig-'));
    const good = simAgentConfigYaml({
      spoolDir: join(dir, 'spool'),
      keysDir: join(dir, 'secrets'),
      endpoint: 'tcp://127.0.0.1:1',
      sensors,
    });
    const configFile = await writeDaemonConfig(
      join(dir, 'rigcap.yaml'),
      good.replace(/size: 1024/, 'size: 0').replace(/zstdLevel: 1\b/, 'zstdLevel: 99'),
    );
    child = startDaemon(configFile);
    const exit = await child.exitWithin(60_000);
    expect(exit, child.tail()).toEqual({ code: 2, signal: null });
    const stderr = child.stderr();
    expect(stderr).toContain('RIGCAP_CONFIG_INVALID');
    expect(stderr).toMatch(/streams\[\d+\]\.queue\.size/);
    expect(stderr).toContain('chunking.zstdLevel');
    expect(stderr).toContain(configFile);
  });
});
