import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import zlib from 'node:zlib';
import { McapWriter } from '@mcap/core';
import { MessageReader } from '@foxglove/rosmsg2-serialization';
import { parse } from '@foxglove/rosmsg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../agent/log.ts';
import { McapReplayDriver } from '../../../drivers/mcap-replay/driver.ts';
import { ros2msgSchemaText } from '../../../drivers/ros-schemas.ts';
import type { McapReplayDriverStream } from '../../../drivers/stream-config.ts';
import type { Sample } from '../../../drivers/types.ts';
import { encodeCdr, imuMessage } from '../../../scripts/sim-rig/messages.ts';

const fixture = new URL('../../fixtures/ros2/talker.mcap', import.meta.url).pathname;
let dir = '';
let written = '';

const stream = (
  fields: Partial<McapReplayDriverStream> & { name: string; topic: string; type: string; file: string },
): McapReplayDriverStream => ({
  driver: 'mcap-replay',
  encoding: 'cdr',
  latched: false,
  maxMessageBytes: 1 << 20,
  speed: 'max',
  ...fields,
});

async function collect(driver: McapReplayDriver): Promise<Sample[]> {
  await driver.open(new AbortController().signal);
  const samples: Sample[] = [];
  for await (const sample of driver.samples()) samples.push(sample);
  return samples;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rigcap-replay-'));
  written = join(dir, 'imu.mcap');
  const handle = await open(written, 'w');
  let position = 0n;
  const writer = new McapWriter({
    writable: {
      position: () => position,
      write: async (buffer: Uint8Array) => {
        await handle.write(buffer);
        position += BigInt(buffer.byteLength);
      },
    },
    chunkSize: 512,
    compressChunk: (data) => ({ compression: 'zstd', compressedData: zlib.zstdCompressSync(data) }),
  });
  await writer.start({ profile: 'ros2', library: 'rigcap-test' });
  const schemaId = await writer.registerSchema({
    name: 'sensor_msgs/msg/Imu',
    encoding: 'ros2msg',
    data: new TextEncoder().encode(ros2msgSchemaText('sensor_msgs/msg/Imu')),
  });
  const imu = await writer.registerChannel({
    topic: '/imu',
    schemaId,
    messageEncoding: 'cdr',
    metadata: new Map(),
  });
  const other = await writer.registerChannel({
    topic: '/other',
    schemaId,
    messageEncoding: 'cdr',
    metadata: new Map(),
  });
  for (let i = 0; i < 20; i++) {
    const captureNs = 1_700_000_000_000_000_000n + BigInt(i) * 5_000_000n;
    const data = encodeCdr(
      'sensor_msgs/msg/Imu',
      imuMessage({ captureNs, elapsedS: i / 200, noise: () => 0 }),
    );
    await writer.addMessage({
      channelId: i % 4 === 3 ? other : imu,
      sequence: 0,
      logTime: captureNs + 1000n,
      publishTime: captureNs,
      data,
    });
  }
  await writer.end();
  await handle.close();
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('McapReplayDriver', () => {
  it('replays a zstd MCAP written here: only configured topics, publish time as capture time, file schemas', async () => {
    const driver = new McapReplayDriver({
      streams: [
        stream({
          name: 'imu',
          topic: '/rig/imu',
          sourceTopic: '/imu',
          type: 'sensor_msgs/msg/Imu',
          file: written,
        }),
      ],
      log: silentLogger(),
    });
    const samples = await collect(driver);
    expect(samples).toHaveLength(15);
    expect(samples.map((s) => s.seq)).toEqual([...Array(15).keys()]);
    expect(samples[0]).toMatchObject({
      stream: 'imu',
      topic: '/rig/imu',
      captureNs: 1_700_000_000_000_000_000n,
      encoding: 'cdr',
      schemaRef: 'sensor_msgs/msg/Imu',
    });
    expect(driver.schemas().get('imu')).toMatchObject({
      name: 'sensor_msgs/msg/Imu',
      encoding: 'ros2msg',
      messageEncoding: 'cdr',
    });
    expect(driver.stats().streams['imu']).toMatchObject({ received: 15, drops: {} });
  });

  it('drops messages whose type differs from the stream config as type_mismatch', async () => {
    const driver = new McapReplayDriver({
      streams: [stream({ name: 'imu', topic: '/imu', type: 'sensor_msgs/msg/NavSatFix', file: written })],
      log: silentLogger(),
    });
    expect(await collect(driver)).toHaveLength(0);
    expect(driver.stats().streams['imu']?.drops).toEqual({ type_mismatch: 15 });
  });

  it('replays a real ROS 2 recording (rosbag2, zstd) at recorded speed and the payload decodes with the file schema', async () => {
    const driver = new McapReplayDriver({
      streams: [
        stream({
          name: 'chatter',
          topic: '/topic',
          type: 'std_msgs/msg/String',
          file: fixture,
          speed: 'recorded',
        }),
      ],
      log: silentLogger(),
    });
    const samples = await collect(driver);
    expect(samples.length).toBeGreaterThan(0);
    const schema = driver.schemas().get('chatter');
    expect(schema?.name).toBe('std_msgs/msg/String');
    const reader = new MessageReader(parse(new TextDecoder().decode(schema?.data), { ros2: true }));
    expect(reader.readMessage<{ data: string }>(samples[0]?.data ?? new Uint8Array()).data).toMatch(/Hello/);
    expect(samples.every((s, i) => i === 0 || s.captureNs >= (samples[i - 1]?.captureNs ?? 0n))).toBe(true);
  });

  it('fails with coded errors for a missing file and for bytes that are not MCAP', async () => {
    const missing = new McapReplayDriver({
      streams: [
        stream({ name: 'x', topic: '/x', type: 'std_msgs/msg/String', file: join(dir, 'nope.mcap') }),
      ],
      log: silentLogger(),
    });
    await expect(missing.open(new AbortController().signal)).rejects.toMatchObject({
      code: 'RIGCAP_DRIVER_OPEN_FAILED',
    });
    const garbage = join(dir, 'garbage.mcap');
    await (await open(garbage, 'w')).writeFile('this is not an mcap file at all, just text');
    const driver = new McapReplayDriver({
      streams: [stream({ name: 'x', topic: '/x', type: 'std_msgs/msg/String', file: garbage })],
      log: silentLogger(),
    });
    await expect(collect(driver)).rejects.toMatchObject({ code: 'RIGCAP_MCAP_INVALID' });
  });
});
