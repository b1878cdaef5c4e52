// CLI: `node scripts/sim-rig/main.ts --endpoint tcp://127.0.0.1:5555 [--socket pub|push]
// [--connect] [--width 1280 --height 720] [--lidar-points 100000] [--no-lidar …] [--seconds N]`.
// Prints the per-topic counts as JSON on exit (Ctrl-C or --seconds).
import { parseArgs } from 'node:util';
import { startSimRig } from './rig.ts';
import type { SimSensor } from './streams.ts';

const { values } = parseArgs({
  options: {
    endpoint: { type: 'string', default: 'tcp://127.0.0.1:5555' },
    socket: { type: 'string', default: 'pub' },
    connect: { type: 'boolean', default: false },
    width: { type: 'string', default: '1280' },
    height: { type: 'string', default: '720' },
    frames: { type: 'string', default: '12' },
    'lidar-points': { type: 'string', default: '100000' },
    seconds: { type: 'string' },
    'no-front-camera': { type: 'boolean', default: false },
    'no-rear-camera': { type: 'boolean', default: false },
    'no-lidar': { type: 'boolean', default: false },
    'no-imu': { type: 'boolean', default: false },
    'no-gnss': { type: 'boolean', default: false },
    'no-tf': { type: 'boolean', default: false },
  },
});

if (values.socket !== 'pub' && values.socket !== 'push') {
  process.stderr.write('--socket must be pub or push\n');
  process.exit(2);
}
const sensors: Partial<Record<SimSensor, boolean>> = {
  frontCamera: !values['no-front-camera'],
  rearCamera: !values['no-rear-camera'],
  lidar: !values['no-lidar'],
  imu: !values['no-imu'],
  gnss: !values['no-gnss'],
  tf: !values['no-tf'],
};
const controller = new AbortController();
process.once('SIGINT', () => controller.abort());
process.once('SIGTERM', () => controller.abort());
const rig = await startSimRig({
  endpoint: values.endpoint,
  socket: values.socket,
  bind: !values.connect,
  sensors,
  camera: { width: Number(values.width), height: Number(values.height), frames: Number(values.frames) },
  lidar: { points: Number(values['lidar-points']) },
  signal: controller.signal,
});
process.stderr.write(`sim rig publishing on ${rig.endpoint} (${values.socket}); Ctrl-C to stop\n`);
if (values.seconds !== undefined) setTimeout(() => controller.abort(), Number(values.seconds) * 1000);
controller.signal.addEventListener('abort', () => {
  void rig.stop().then(() => process.stdout.write(`${JSON.stringify({ published: rig.published() })}\n`));
});
