// Entry of `rigcap bench sync` inside its private network namespace (started by sync-bench.ts
// under `unshare -n`): runs the shaped sync once and prints the result as one JSON line.
import { silentLogger } from '../../agent/log.ts';
import { runShapedSync, type SyncBenchOptions } from './sync-bench.ts';

const settings = JSON.parse(process.argv[2] ?? '{}') as SyncBenchOptions;
const result = await runShapedSync(settings, silentLogger());
process.stdout.write(`${JSON.stringify(result)}\n`);
