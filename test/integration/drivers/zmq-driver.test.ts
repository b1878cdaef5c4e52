import * as zmq from 'zeromq';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../agent/log.ts';
import type { ZmqDriverStream } from '../../../drivers/stream-config.ts';
import type { DriverStats, Sample } from '../../../drivers/types.ts';
import { ZmqDriver } from '../../../drivers/zmq/driver.ts';
import { encodeFrame } from '../../../drivers/zmq/frame.ts';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

const stream = (name: string, topic: string, fields: Partial<ZmqDriverStream>): ZmqDriverStream => ({
  name,
  topic,
  driver: 'zmq',
  endpoint: 'tcp://127.0.0.1:0',
  socket: 'sub',
  bind: false,
  type: 'sensor_msgs/msg/Imu',
  encoding: 'cdr',
  latched: false,
  maxMessageBytes: 1024 * 1024,
  ...fields,
});
const frame = (topic: string, seq: number, payload: Uint8Array = new Uint8Array(16)) =>
  encodeFrame(
    topic,
    {
      seq,
      captureNs: 1_700_000_000_000_000_000n + BigInt(seq),
      encoding: 'cdr',
      type: 'sensor_msgs/msg/Imu',
      latched: false,
    },
    payload,
  );

/** Reads samples until `until(stats)` holds and every sample counted has been taken (bounded by the test timeout). */
async function drain(driver: ZmqDriver, until: (stats: DriverStats) => boolean): Promise<Sample[]> {
  const samples: Sample[] = [];
  const iterator = driver.samples()[Symbol.asyncIterator]();
  let pending: Promise<IteratorResult<Sample>> | undefined;
  for (;;) {
    const received = Object.values(driver.stats().streams).reduce((n, s) => n + s.received, 0);
    if (until(driver.stats()) && samples.length === received) return samples;
    pending ??= iterator.next();
    const next = await Promise.race([pending, new Promise<'tick'>((r) => setTimeout(() => r('tick'), 50))]);
    if (next === 'tick') continue;
    pending = undefined;
    if (next.done === true) return samples;
    samples.push(next.value);
  }
}

describe('ZmqDriver on real sockets', () => {
  it('PULL bound by the driver: counts good, garbage, unknown topic, oversize, and survives a 100 MB frame without holding it', async () => {
    const driver = new ZmqDriver({
      streams: [
        stream('imu', '/imu', {
          socket: 'pull',
          bind: true,
          endpoint: 'tcp://127.0.0.1:*',
          maxMessageBytes: 64 * 1024,
        }),
      ],
      log: silentLogger(),
    });
    await driver.open(new AbortController().signal);
    cleanups.push(() => driver.close());
    const endpoint = driver.boundEndpoint ?? '';
    expect(endpoint).toMatch(/^tcp:\/\/127\.0\.0\.1:\d+$/);
    const push = new zmq.Push({ linger: 0 });
    cleanups.push(() => push.close());
    push.connect(endpoint);
    const rssBefore = process.memoryUsage().rss;
    await push.send(frame('/imu', 0));
    await push.send([Buffer.from('/imu'), Buffer.from('not json'), Buffer.alloc(4)]);
    await push.send([Buffer.from([0xde, 0xad, 0xbe, 0xef])]);
    await push.send(frame('/nowhere', 0));
    await push.send(frame('/imu', 1, new Uint8Array(100 * 1024))); // over the stream limit, under the socket limit
    await push.send(frame('/imu', 2, Buffer.alloc(100 * 1024 * 1024))); // over the socket limit: ZeroMQ refuses it
    await push.send(frame('/imu', 3));
    const samples = await drain(driver, (s) => (s.streams['imu']?.received ?? 0) >= 2);
    expect(samples.map((s) => s.seq)).toEqual([0, 3]);
    const stats = driver.stats();
    expect(stats.streams['imu']?.drops).toEqual({ malformed_frame: 1, oversize: 1, upstream_loss: 1 });
    expect(stats.unattributed).toEqual({ malformed_frame: 1, unknown_topic: 1 });
    // The 100 MB frame was never buffered whole on the receiving side (sender side holds one copy).
    expect(driver.socketMaxFrameBytes).toBe(128 * 1024);
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(400 * 1024 * 1024);
  });

  it('SUB connecting to a PUB: receives every configured topic and counts seq gaps as upstream loss', async () => {
    const pub = new zmq.Publisher({ linger: 0 });
    cleanups.push(() => pub.close());
    await pub.bind('tcp://127.0.0.1:*');
    const endpoint = pub.lastEndpoint ?? '';
    const driver = new ZmqDriver({
      streams: [stream('imu', '/imu', { endpoint }), stream('gnss', '/gnss', { endpoint })],
      log: silentLogger(),
    });
    await driver.open(new AbortController().signal);
    cleanups.push(() => driver.close());
    // Slow joiner: publish a probe until the subscription has arrived.
    const iterator = driver.samples()[Symbol.asyncIterator]();
    // One pending next() across probes: a new one per probe would queue behind probes the slow
    // joiner lost, and the loop would never see its own.
    const pending = iterator.next();
    let first: IteratorResult<Sample> | 'tick' = 'tick';
    for (let probe = 0; first === 'tick'; probe++) {
      await pub.send(frame('/imu', probe));
      first = await Promise.race([pending, new Promise<'tick'>((r) => setTimeout(() => r('tick'), 20))]);
    }
    const base = first.done === true ? 0 : first.value.seq;
    for (const seq of [base + 1, base + 2, base + 5]) await pub.send(frame('/imu', seq));
    for (const seq of [0, 1, 3]) await pub.send(frame('/gnss', seq));
    const seen: Sample[] = [];
    while (
      (driver.stats().streams['gnss']?.received ?? 0) < 3 ||
      (driver.stats().streams['imu']?.received ?? 0) < 4
    ) {
      const next = await iterator.next();
      if (next.done === true) break;
      seen.push(next.value);
    }
    expect(seen.filter((s) => s.stream === 'imu').map((s) => s.seq)).toEqual([base + 1, base + 2, base + 5]);
    const stats = driver.stats();
    expect(stats.streams['imu']?.drops.upstream_loss).toBe(2);
    expect(stats.streams['gnss']?.drops.upstream_loss).toBe(1);
  });

  it('close ends samples() and is idempotent', async () => {
    const driver = new ZmqDriver({
      streams: [stream('imu', '/imu', { endpoint: 'tcp://127.0.0.1:5', socket: 'sub' })],
      log: silentLogger(),
    });
    await driver.open(new AbortController().signal);
    const done = (async () => {
      for await (const _ of driver.samples()) {
        /* none arrive */
      }
    })();
    await driver.close();
    await driver.close();
    await expect(done).resolves.toBeUndefined();
  });

  it('open fails with a code when the endpoint cannot be bound', async () => {
    const driver = new ZmqDriver({
      streams: [stream('imu', '/imu', { endpoint: 'tcp://256.0.0.1:1', bind: true })],
      log: silentLogger(),
    });
    await expect(driver.open(new AbortController().signal)).rejects.toMatchObject({
      code: 'RIGCAP_DRIVER_OPEN_FAILED',
    });
  });
});
