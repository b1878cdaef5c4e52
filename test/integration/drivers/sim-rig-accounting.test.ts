import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../agent/log.ts';
import { createDrivers } from '../../../drivers/registry.ts';
import type { DriverStreamConfig } from '../../../drivers/stream-config.ts';
import type { Driver, Sample } from '../../../drivers/types.ts';
import { startSimRig, simRigStreams, simTopics, type SimRig } from '../../../scripts/sim-rig/index.ts';

const messagesPerTopic = 40;
const fastRates = Object.fromEntries(simTopics.map((t) => [t.topic, 400]));
const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

/** received + drops + upstream loss, per topic, as the driver counted them. */
function accounted(driver: Driver, streams: readonly DriverStreamConfig[]): Record<string, number> {
  const stats = driver.stats();
  return Object.fromEntries(
    streams.map((s) => {
      const own = stats.streams[s.name];
      const drops = Object.values(own?.drops ?? {}).reduce((n, c) => n + (c ?? 0), 0);
      return [s.topic, (own?.received ?? 0) + drops];
    }),
  );
}

async function runRig(
  socket: 'pub' | 'push',
): Promise<{ rig: SimRig; driver: Driver; samples: Sample[]; streams: DriverStreamConfig[] }> {
  const rig = await startSimRig({
    endpoint: 'tcp://127.0.0.1:*',
    socket,
    camera: { width: 160, height: 90, frames: 2 },
    lidar: { points: 2000 },
    ratesHz: fastRates,
    messagesPerTopic,
    waitForSubscribers: 1,
  });
  cleanups.push(() => rig.stop());
  const streams = simRigStreams({ endpoint: rig.endpoint, socket: socket === 'pub' ? 'sub' : 'pull' });
  const [driver] = await createDrivers(streams, { log: silentLogger() });
  if (driver === undefined) throw new Error('no driver');
  await driver.open(new AbortController().signal);
  cleanups.push(() => driver.close());
  const samples: Sample[] = [];
  const iterator = driver.samples()[Symbol.asyncIterator]();
  const total = messagesPerTopic * simTopics.length;
  while (Object.values(accounted(driver, streams)).reduce((a, b) => a + b, 0) < total) {
    const next = await iterator.next();
    if (next.done === true) break;
    samples.push(next.value);
  }
  await rig.done;
  return { rig, driver, samples, streams };
}

describe('sim rig → zmq driver accounting', () => {
  for (const socket of ['pub', 'push'] as const) {
    it(`${socket}: received + counted drops + upstream loss = published, per topic`, async () => {
      const { rig, driver, samples, streams } = await runRig(socket);
      const published = rig.published();
      expect(Object.values(published).every((n) => n === messagesPerTopic)).toBe(true);
      expect(accounted(driver, streams)).toEqual(published);
      expect(driver.stats().unattributed).toEqual({});
      // Every sample is a decodable ROS 2 message with the rig's capture time and the stream's type.
      const image = samples.find((s) => s.stream === 'front_camera');
      expect(image?.schemaRef).toBe('sensor_msgs/msg/CompressedImage');
      expect(driver.schemas().get('lidar')?.encoding).toBe('ros2msg');
    });
  }
});
