// Child for the spill kill -9 test: captures a replayed camera in spill mode behind a slow de-id
// and prints its session id once enough frames are held, then keeps capturing until it is killed.
// argv: dir bag
import { silentLogger } from '../../../agent/log.ts';
import { spillAgent } from '../../support/spill-agent.ts';

const [dir, bag] = process.argv.slice(2) as [string, string];
const agent = spillAgent({ dir, bag, deid: { mode: 'spill' }, log: silentLogger() });
await agent.start(new AbortController().signal);
const timer = setInterval(() => {
  if (agent.deid!.holding.heldFrames < 5) return;
  clearInterval(timer);
  process.stdout.write(`${JSON.stringify({ sessionId: agent.sessionId })}\n`);
}, 20);
