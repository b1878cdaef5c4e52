// The sim rig in its own process, for tests whose publisher must run flat out without starving the
// test's own event loop. argv[2]: SimRigOptions as JSON (no signal). Prints `{"endpoint": …}` once
// bound, then `{"published": …}` when SIGTERM stops it.
import { startSimRig, type SimRigOptions } from '../../../scripts/sim-rig/index.ts';

const options = JSON.parse(process.argv[2] ?? '{}') as SimRigOptions;
const rig = await startSimRig(options);
process.stdout.write(`${JSON.stringify({ endpoint: rig.endpoint })}\n`);
process.once('SIGTERM', () => {
  void rig.stop().then(() => {
    process.stdout.write(`${JSON.stringify({ published: rig.published() })}\n`);
    process.exit(0);
  });
});
