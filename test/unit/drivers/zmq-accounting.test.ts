import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../../agent/log.ts';
import type { ZmqDriverStream } from '../../../drivers/stream-config.ts';
import type { DriverDrop } from '../../../drivers/types.ts';
import { ZmqDriver } from '../../../drivers/zmq/driver.ts';
import { encodeFrame } from '../../../drivers/zmq/frame.ts';

const stream = (name: string, topic: string, fields: Partial<ZmqDriverStream> = {}): ZmqDriverStream => ({
  name,
  topic,
  driver: 'zmq',
  endpoint: 'tcp://127.0.0.1:1',
  socket: 'sub',
  bind: false,
  type: 'sensor_msgs/msg/Imu',
  encoding: 'cdr',
  latched: false,
  maxMessageBytes: 100,
  ...fields,
});
const frame = (
  topic: string,
  seq: number,
  payload = new Uint8Array(8),
  fields: { type?: string; encoding?: string } = {},
) =>
  encodeFrame(
    topic,
    {
      seq,
      captureNs: 1_700_000_000_000_000_000n + BigInt(seq),
      encoding: fields.encoding ?? 'cdr',
      type: fields.type ?? 'sensor_msgs/msg/Imu',
      latched: false,
    },
    payload,
  );

describe('ZmqDriver frame accounting', () => {
  it('turns good frames into Samples and counts every other frame under one cause', () => {
    const driver = new ZmqDriver({
      streams: [stream('imu', '/imu'), stream('gnss', '/gnss', { type: 'sensor_msgs/msg/NavSatFix' })],
      log: silentLogger(),
    });
    const drops: DriverDrop[] = [];
    driver.onDrop((d) => drops.push(d));
    const sample = driver.acceptFrames(frame('/imu', 0), 7n);
    expect(sample).toMatchObject({
      stream: 'imu',
      topic: '/imu',
      seq: 0,
      captureNs: 1_700_000_000_000_000_000n,
      monoNs: 7n,
      encoding: 'cdr',
      schemaRef: 'sensor_msgs/msg/Imu',
    });
    expect(driver.acceptFrames(frame('/imu', 4), 8n)).toBeDefined(); // 1,2,3 lost upstream
    expect(driver.acceptFrames(frame('/imu', 5, new Uint8Array(101)), 9n)).toBeUndefined(); // oversize
    expect(driver.acceptFrames(frame('/imu', 6), 9n)).toBeDefined(); // no loss: 5 was seen, then dropped
    expect(
      driver.acceptFrames(frame('/gnss', 0, new Uint8Array(4), { type: 'sensor_msgs/msg/Imu' }), 9n),
    ).toBeUndefined();
    expect(driver.acceptFrames(frame('/lidar', 0), 9n)).toBeUndefined();
    expect(
      driver.acceptFrames([Buffer.from('/imu'), Buffer.from('garbage'), Buffer.alloc(1)], 9n),
    ).toBeUndefined();
    expect(driver.acceptFrames([Buffer.from([0, 1, 2])], 9n)).toBeUndefined();
    const stats = driver.stats();
    expect(stats.streams['imu']).toEqual({
      received: 3,
      bytes: 24,
      drops: { upstream_loss: 3, oversize: 1, malformed_frame: 1 },
    });
    expect(stats.streams['gnss']).toEqual({ received: 0, bytes: 0, drops: { type_mismatch: 1 } });
    expect(stats.unattributed).toEqual({ unknown_topic: 1, malformed_frame: 1 });
    expect(drops.reduce((n, d) => n + d.count, 0)).toBe(3 + 1 + 1 + 1 + 1 + 1);
  });

  it('takes capture time from the CDR header stamp when headerTime is set', () => {
    const driver = new ZmqDriver({
      streams: [stream('imu', '/imu', { headerTime: true })],
      log: silentLogger(),
    });
    const cdr = new Uint8Array(16);
    cdr.set([0, 1, 0, 0]);
    new DataView(cdr.buffer).setInt32(4, 1_700_000_000, true);
    new DataView(cdr.buffer).setUint32(8, 5, true);
    expect(driver.acceptFrames(frame('/imu', 0, cdr), 1n)?.captureNs).toBe(1_700_000_000_000_000_005n);
  });

  it('publishes ros2msg schemas for bundled ROS types and JSON Schemas for json streams', () => {
    const driver = new ZmqDriver({
      streams: [
        stream('imu', '/imu'),
        stream('events', '/events', { encoding: 'json', type: 'rigcap.events/v1' }),
      ],
      log: silentLogger(),
    });
    expect(driver.schemas().get('imu')).toMatchObject({
      name: 'sensor_msgs/msg/Imu',
      encoding: 'ros2msg',
      messageEncoding: 'cdr',
    });
    expect(driver.schemas().get('events')).toMatchObject({
      name: 'rigcap.events/v1',
      encoding: 'jsonschema',
      messageEncoding: 'json',
    });
  });

  it('refuses two streams on one topic or streams of different endpoints', () => {
    expect(
      () => new ZmqDriver({ streams: [stream('a', '/x'), stream('b', '/x')], log: silentLogger() }),
    ).toThrow(expect.objectContaining({ code: 'RIGCAP_DRIVER_OPEN_FAILED' }));
    expect(
      () =>
        new ZmqDriver({
          streams: [stream('a', '/x'), stream('b', '/y', { endpoint: 'tcp://127.0.0.1:2' })],
          log: silentLogger(),
        }),
    ).toThrow(/does not share/);
  });
});
