// Child for parent-watch.test.ts: watches its parent as told (argv[2]), prints the watched chain as
// one JSON line, then idles; when a watched parent changes it prints "orphaned" and ends at once.
import { watchParent, type ParentWatchOptions } from '../../../agent/ops/parent-watch.ts';

const through = process.argv[2] as ParentWatchOptions['through'];
const watch = watchParent({
  through,
  intervalMs: 100,
  onOrphaned: (o) => {
    process.stdout.write(`${JSON.stringify({ orphaned: o })}\n`);
    process.kill(process.pid, 'SIGKILL');
  },
});
process.stdout.write(`${JSON.stringify({ pid: process.pid, watched: watch.watched })}\n`);
// Ends by itself after a while so a failed test leaves nothing behind.
setTimeout(() => process.exit(0), 60_000);
