import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { zstdDecompressSync } from 'node:zlib';
import { McapStreamReader } from '@mcap/core';
import { parse } from '@foxglove/rosmsg';
import { MessageReader, MessageWriter } from '@foxglove/rosmsg2-serialization';
import { describe, expect, it } from 'vitest';
import { rosMessageDefinitions } from '../../../drivers/ros-schemas.ts';
import { Ros2Driver, type Ros2DriverOptions } from '../../../drivers/ros2/driver.ts';
import { Ros2DriverError } from '../../../drivers/ros2/errors.ts';
import type { Ros2DriverStream } from '../../../drivers/stream-config.ts';
import type { DriverDrop, Sample } from '../../../drivers/types.ts';
import { FakeRclnodejs, offeredProfile } from '../../support/ros2/fake-rclnodejs.ts';

const fixtures = fileURLToPath(new URL('../../fixtures/ros2/', import.meta.url));
const env = { ROS_DISTRO: 'jazzy', AMENT_PREFIX_PATH: `${fixtures}ament` };
const discoveryOff = {
  enabled: false,
  include: [],
  exclude: [],
  discoveryIntervalMs: 60_000,
  nodeName: 'rigcap',
};

function stream(
  overrides: Partial<Ros2DriverStream> & Pick<Ros2DriverStream, 'name' | 'topic' | 'type'>,
): Ros2DriverStream {
  return {
    driver: 'ros2',
    encoding: 'cdr',
    latched: false,
    maxMessageBytes: 1 << 20,
    headerTime: false,
    ...overrides,
  };
}

function driverWith(fake: FakeRclnodejs, options: Partial<Ros2DriverOptions>): Ros2Driver {
  return new Ros2Driver({
    streams: [],
    discovery: discoveryOff,
    env,
    loadRclnodejs: async () => fake.module,
    clock: { wallNs: () => 42n, monoNs: () => 7n },
    ...options,
  });
}

async function collect(driver: Ros2Driver): Promise<Sample[]> {
  await driver.close();
  const samples: Sample[] = [];
  for await (const sample of driver.samples()) samples.push(sample);
  return samples;
}

/** Messages, schema and channel metadata of one topic in the real rosbag2 recording. */
function recordedTopic(topic: string): {
  messages: Uint8Array[];
  schemaText: string;
  metadata: Map<string, string>;
} {
  const reader = new McapStreamReader({ decompressHandlers: { zstd: (data) => zstdDecompressSync(data) } });
  reader.append(readFileSync(`${fixtures}rosbag2-only_topics.mcap`));
  const messages: Uint8Array[] = [];
  let channelId = -1;
  let schemaId = -1;
  let schemaText = '';
  let metadata = new Map<string, string>();
  const schemas = new Map<number, string>();
  for (let record = reader.nextRecord(); record !== undefined; record = reader.nextRecord()) {
    if (record.type === 'Schema') schemas.set(record.id, new TextDecoder().decode(record.data));
    if (record.type === 'Channel' && record.topic === topic) {
      channelId = record.id;
      schemaId = record.schemaId;
      metadata = record.metadata;
    }
    if (record.type === 'Message' && record.channelId === channelId) messages.push(record.data);
  }
  schemaText = schemas.get(schemaId) ?? '';
  return { messages, schemaText, metadata };
}

describe('Ros2Driver with real ROS 2 bytes', () => {
  it('hands over the recorded CDR bytes unchanged, header time from the stamp, rosbag2 schema and QoS metadata', async () => {
    const recorded = recordedTopic('/parameter_events');
    expect(recorded.messages.length).toBeGreaterThan(0);
    const fake = new FakeRclnodejs({ distro: 'jazzy' });
    // The recording saw two publishers offering this profile (see its offered_qos_profiles).
    fake.addPublisher('/parameter_events', 'rcl_interfaces/msg/ParameterEvent', offeredProfile(), 'a');
    fake.addPublisher('/parameter_events', 'rcl_interfaces/msg/ParameterEvent', offeredProfile(), 'b');
    const driver = driverWith(fake, {
      streams: [
        stream({
          name: 'params',
          topic: '/parameter_events',
          type: 'rcl_interfaces/msg/ParameterEvent',
          headerTime: true,
        }),
      ],
    });
    await driver.open(new AbortController().signal);
    const subscription = fake.subscriptionOn('/parameter_events');
    expect(subscription?.isRaw).toBe(true);
    for (const bytes of recorded.messages) fake.deliver('/parameter_events', bytes);

    const schema = driver.schemas().get('params');
    expect(schema?.encoding).toBe('ros2msg');
    expect(new TextDecoder().decode(schema?.data)).toBe(recorded.schemaText);
    expect(schema?.channelMetadata?.['offered_qos_profiles']).toBe(
      recorded.metadata.get('offered_qos_profiles'),
    );

    const samples = await collect(driver);
    const ours = new MessageReader(parse(new TextDecoder().decode(schema?.data), { ros2: true }));
    const independent = new MessageReader(parse(recorded.schemaText, { ros2: true }));
    expect(samples.map((s) => s.seq)).toEqual(recorded.messages.map((_, i) => i + 1));
    samples.forEach((sample, i) => {
      const original = recorded.messages[i] ?? new Uint8Array();
      expect(Buffer.compare(Buffer.from(sample.data), Buffer.from(original))).toBe(0);
      const decoded = ours.readMessage<{ stamp: { sec: number; nanosec: number }; node: string }>(
        sample.data,
      );
      expect(decoded).toEqual(independent.readMessage(original));
      expect(sample.captureNs).toBe(
        BigInt(decoded.stamp.sec) * 1_000_000_000n + BigInt(decoded.stamp.nanosec),
      );
      expect(sample).toMatchObject({
        stream: 'params',
        topic: '/parameter_events',
        encoding: 'cdr',
        schemaRef: 'rcl_interfaces/msg/ParameterEvent',
        monoNs: 7n,
      });
    });
    expect(driver.stats().streams['params']?.received).toBe(recorded.messages.length);
  });

  it('reads the Header stamp of a stamped type written by an independent CDR writer', async () => {
    const definitions = rosMessageDefinitions('sensor_msgs/msg/Imu') ?? [];
    const bytes = new MessageWriter(definitions).writeMessage({
      header: { stamp: { sec: 1_700_000_000, nanosec: 123_456_789 }, frame_id: 'imu_link' },
      orientation: { x: 0, y: 0, z: 0, w: 1 },
      orientation_covariance: new Float64Array(9),
      angular_velocity: { x: 0.1, y: 0.2, z: 0.3 },
      angular_velocity_covariance: new Float64Array(9),
      linear_acceleration: { x: 0, y: 0, z: 9.81 },
      linear_acceleration_covariance: new Float64Array(9),
    });
    const fake = new FakeRclnodejs({ distro: 'humble' });
    fake.addPublisher('/imu', 'sensor_msgs/msg/Imu', offeredProfile({ reliability: 2 }));
    const driver = driverWith(fake, {
      streams: [
        stream({ name: 'imu', topic: '/imu', type: 'sensor_msgs/msg/Imu', headerTime: true }),
        stream({ name: 'imu_rx', topic: 'imu_rx', type: 'sensor_msgs/msg/Imu' }),
      ],
    });
    fake.addPublisher('/imu_rx', 'sensor_msgs/msg/Imu');
    await driver.open(new AbortController().signal);
    fake.deliver('/imu', bytes);
    fake.deliver('/imu_rx', bytes);
    const [headerTimed, receiveTimed] = await collect(driver);
    expect(headerTimed?.captureNs).toBe(1_700_000_000_123_456_789n);
    expect(receiveTimed?.captureNs).toBe(42n);
    expect(receiveTimed?.topic).toBe('imu_rx');
    // The environment has no sensor_msgs, so the bundled definition is used and decodes the bytes.
    const schema = driver.schemas().get('imu');
    const decoded = new MessageReader(
      parse(new TextDecoder().decode(schema?.data), { ros2: true }),
    ).readMessage<{ header: { frame_id: string } }>(headerTimed?.data ?? new Uint8Array());
    expect(decoded.header.frame_id).toBe('imu_link');
  });
});

describe('Ros2Driver topic selection and QoS', () => {
  it('adapts QoS to the offered profiles and honours per-topic overrides', async () => {
    const fake = new FakeRclnodejs({ distro: 'jazzy' });
    fake.addPublisher('/tf_static', 'tf2_msgs/msg/TFMessage', offeredProfile({ durability: 1 }), 'a');
    fake.addPublisher('/tf_static', 'tf2_msgs/msg/TFMessage', offeredProfile({ durability: 1 }), 'b');
    fake.addPublisher('/scan', 'sensor_msgs/msg/LaserScan', offeredProfile({ reliability: 1 }), 'a');
    fake.addPublisher('/scan', 'sensor_msgs/msg/LaserScan', offeredProfile({ reliability: 2 }), 'b');
    fake.addPublisher('/odom', 'nav_msgs/msg/Odometry', offeredProfile({ reliability: 2 }));
    const driver = driverWith(fake, {
      streams: [
        stream({ name: 'scan', topic: '/scan', type: 'sensor_msgs/msg/LaserScan' }),
        stream({
          name: 'odom',
          topic: '/odom',
          type: 'nav_msgs/msg/Odometry',
          qos: { reliability: 'reliable', durability: 'auto', depth: 50 },
        }),
      ],
      discovery: { ...discoveryOff, enabled: true, include: ['^/tf'] },
    });
    await driver.open(new AbortController().signal);
    expect(fake.subscriptionOn('/tf_static')?.qos).toMatchObject({
      reliabilityValue: 1,
      durability: 1,
      depth: 10,
    });
    expect(fake.subscriptionOn('/scan')?.qos).toMatchObject({ reliabilityValue: 2, durability: 2 });
    expect(fake.subscriptionOn('/odom')?.qos).toMatchObject({
      reliabilityValue: 1,
      durability: 2,
      depth: 50,
    });
    const tfStatic = driver.streams().find((s) => s.topic === '/tf_static');
    expect(tfStatic).toMatchObject({
      stream: 'tf_static',
      latched: true,
      discovered: true,
      subscribed: true,
    });
    const yaml = driver.schemas().get('scan')?.channelMetadata?.['offered_qos_profiles'] ?? '';
    expect(yaml.split('\n- ').length).toBe(2);
    expect(yaml).toContain('  reliability: 2\n');
    await driver.close();
  });

  it('subscribes to a topic that appears after open, with a generated stream name, and respects include/exclude', async () => {
    const fake = new FakeRclnodejs({ distro: 'jazzy' });
    const driver = driverWith(fake, {
      discovery: { ...discoveryOff, enabled: true, include: ['^/cam/'], exclude: ['/compressed$'] },
    });
    await driver.open(new AbortController().signal);
    expect(fake.subscriptions).toHaveLength(0);
    fake.addPublisher('/cam/front/image_raw', 'sensor_msgs/msg/Image');
    fake.addPublisher('/cam/front/compressed', 'sensor_msgs/msg/CompressedImage');
    fake.addPublisher('/other', 'std_msgs/msg/String');
    driver.pollGraph();
    expect(fake.subscriptions.map((s) => s.topic)).toEqual(['/cam/front/image_raw']);
    expect(driver.streams()).toEqual([
      {
        stream: 'cam.front.image_raw',
        topic: '/cam/front/image_raw',
        type: 'sensor_msgs/msg/Image',
        latched: false,
        discovered: true,
        subscribed: true,
      },
    ]);
    fake.deliver('/cam/front/image_raw', new Uint8Array([0, 1, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0]));
    const [sample] = await collect(driver);
    expect(sample?.stream).toBe('cam.front.image_raw');
  });

  it('waits for publishers before subscribing a configured auto-QoS topic', async () => {
    const fake = new FakeRclnodejs({ distro: 'jazzy' });
    const driver = driverWith(fake, {
      streams: [stream({ name: 'gps', topic: '/gps', type: 'sensor_msgs/msg/NavSatFix' })],
    });
    await driver.open(new AbortController().signal);
    expect(fake.subscriptions).toHaveLength(0);
    fake.addPublisher('/gps', 'sensor_msgs/msg/NavSatFix', offeredProfile({ reliability: 2 }));
    driver.pollGraph();
    expect(fake.subscriptionOn('/gps')?.qos.reliabilityValue).toBe(2);
    await driver.close();
  });

  it('refuses a type change on a recorded topic and counts it once as type_mismatch', async () => {
    const fake = new FakeRclnodejs({ distro: 'jazzy' });
    fake.addPublisher('/imu', 'sensor_msgs/msg/Imu');
    const drops: DriverDrop[] = [];
    const driver = driverWith(fake, {
      streams: [stream({ name: 'imu', topic: '/imu', type: 'sensor_msgs/msg/Imu' })],
    });
    driver.onDrop((drop) => drops.push(drop));
    await driver.open(new AbortController().signal);
    fake.removePublishers('/imu');
    fake.addPublisher('/imu', 'std_msgs/msg/String');
    driver.pollGraph();
    driver.pollGraph();
    expect(drops).toEqual([expect.objectContaining({ stream: 'imu', cause: 'type_mismatch', count: 1 })]);
    expect(driver.stats().streams['imu']?.drops).toEqual({ type_mismatch: 1 });
    expect(fake.subscriptions).toHaveLength(1);
    await driver.close();
  });
});

describe('Ros2Driver loss and failures', () => {
  it('counts middleware message-lost events (Jazzy+) and payloads that are not CDR', async () => {
    const fake = new FakeRclnodejs({ distro: 'jazzy' });
    fake.addPublisher('/scan', 'sensor_msgs/msg/LaserScan');
    const driver = driverWith(fake, {
      streams: [
        stream({ name: 'scan', topic: '/scan', type: 'sensor_msgs/msg/LaserScan', headerTime: true }),
      ],
    });
    await driver.open(new AbortController().signal);
    fake.loseMessages('/scan', 3);
    fake.deliver('/scan', new Uint8Array([1, 2]));
    fake.deliver('/scan', new Uint8Array([0, 1, 0, 0, 1, 0]));
    expect(driver.stats().streams['scan']?.drops).toEqual({ middleware_lost: 3, decode_error: 2 });
    expect(await collect(driver)).toEqual([]);
  });

  it('subscribes without event callbacks on Humble', async () => {
    const fake = new FakeRclnodejs({ distro: 'humble' });
    fake.addPublisher('/scan', 'sensor_msgs/msg/LaserScan');
    const driver = driverWith(fake, {
      streams: [stream({ name: 'scan', topic: '/scan', type: 'sensor_msgs/msg/LaserScan' })],
    });
    await driver.open(new AbortController().signal);
    expect(fake.subscriptionOn('/scan')?.events).toBeUndefined();
    await driver.close();
    expect(fake.shutdownCalls).toBe(1);
  });

  it('counts queue_full when the consumer falls behind', async () => {
    const fake = new FakeRclnodejs({ distro: 'jazzy' });
    fake.addPublisher('/scan', 'sensor_msgs/msg/LaserScan');
    const driver = driverWith(fake, {
      streams: [stream({ name: 'scan', topic: '/scan', type: 'sensor_msgs/msg/LaserScan' })],
      maxPendingSamples: 2,
    });
    await driver.open(new AbortController().signal);
    for (let i = 0; i < 5; i += 1) fake.deliver('/scan', new Uint8Array([0, 1, 0, 0, i]));
    expect(driver.stats().streams['scan']).toMatchObject({ received: 2, drops: { queue_full: 3 } });
    expect((await collect(driver)).map((s) => s.seq)).toEqual([1, 2]);
  });

  it('warns and carries on when rclnodejs cannot load a type', async () => {
    const fake = new FakeRclnodejs({ distro: 'jazzy', unloadableTypes: ['vendor_msgs/msg/Secret'] });
    fake.addPublisher('/secret', 'vendor_msgs/msg/Secret');
    fake.addPublisher('/scan', 'sensor_msgs/msg/LaserScan');
    const warnings: string[] = [];
    const driver = driverWith(fake, {
      discovery: { ...discoveryOff, enabled: true },
      onWarning: (w) => warnings.push(`${w.topic}: ${w.message}`),
    });
    await driver.open(new AbortController().signal);
    driver.pollGraph();
    expect(warnings).toEqual([
      expect.stringContaining('/secret: cannot subscribe as vendor_msgs/msg/Secret'),
    ]);
    expect(fake.subscriptionOn('/scan')).toBeDefined();
    await driver.close();
  });

  it('fails open with RIGCAP_ROS2_ENV_MISSING before loading rclnodejs when ROS 2 is not sourced', async () => {
    let loads = 0;
    const driver = new Ros2Driver({
      streams: [stream({ name: 'scan', topic: '/scan', type: 'sensor_msgs/msg/LaserScan' })],
      discovery: discoveryOff,
      env: { PATH: '/usr/bin' },
      loadRclnodejs: async () => {
        loads += 1;
        throw new Error('must not load');
      },
    });
    const failure = await driver.open(new AbortController().signal).catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(Ros2DriverError);
    expect(failure).toMatchObject({ code: 'RIGCAP_ROS2_ENV_MISSING' });
    expect((failure as Error).message).toContain('source /opt/ros/<distro>/setup.bash');
    expect(loads).toBe(0);
  });

  it('fails open with RIGCAP_ROS2_UNAVAILABLE when rclnodejs is not installed', async () => {
    const driver = new Ros2Driver({
      streams: [stream({ name: 'scan', topic: '/scan', type: 'sensor_msgs/msg/LaserScan' })],
      discovery: discoveryOff,
      env,
    });
    const failure = await driver.open(new AbortController().signal).catch((err: unknown) => err);
    expect(failure).toMatchObject({ code: 'RIGCAP_ROS2_UNAVAILABLE' });
    expect((failure as Error).message).toContain('npm install rclnodejs');
  });
});

describe('Ros2Driver QoS re-adaptation', () => {
  it('resubscribes best_effort when a best_effort publisher joins a reliable topic', async () => {
    const fake = new FakeRclnodejs({ distro: 'jazzy' });
    fake.addPublisher('/scan', 'sensor_msgs/msg/LaserScan', offeredProfile({ reliability: 1 }), 'a');
    const driver = driverWith(fake, {
      streams: [stream({ name: 'scan', topic: '/scan', type: 'sensor_msgs/msg/LaserScan' })],
    });
    await driver.open(new AbortController().signal);
    expect(fake.subscriptionOn('/scan')?.qos.reliabilityValue).toBe(1);
    driver.pollGraph();
    expect(fake.subscriptions).toHaveLength(1);
    fake.addPublisher('/scan', 'sensor_msgs/msg/LaserScan', offeredProfile({ reliability: 2 }), 'b');
    driver.pollGraph();
    expect(fake.subscriptions.filter((s) => s.destroyed)).toHaveLength(1);
    expect(fake.subscriptionOn('/scan')?.qos.reliabilityValue).toBe(2);
    expect(
      driver.schemas().get('scan')?.channelMetadata?.['offered_qos_profiles']?.split('\n- '),
    ).toHaveLength(2);
    fake.deliver('/scan', new Uint8Array([0, 1, 0, 0]));
    expect((await collect(driver)).map((s) => s.seq)).toEqual([1]);
  });
});
