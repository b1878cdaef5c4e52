// Child for the spill process tests: captures a replayed camera in spill mode behind a slow de-id
// and prints its session id once enough frames are held, then keeps capturing. SIGTERM stops it
// with a short budget (as `rigcap run` does with its own) and prints the stream's counts; the
// kill -9 test just kills it. argv: dir bag
import { silentLogger } from '../../../agent/log.ts';
import { spillAgent } from '../../support/spill-agent.ts';

const [dir, bag] = process.argv.slice(2) as [string, string];
const agent = spillAgent({ dir, bag, deid: { mode: 'spill' }, log: silentLogger() });
process.once('SIGTERM', () => {
  void agent.stop({ timeoutMs: 300, reason: 'signal' }).then(() => {
    const t = agent.ledger.totals().get('front');
    process.stdout.write(
      `${JSON.stringify({ received: t?.received, written: t?.written, drops: t?.drops })}\n`,
    );
    process.exit(0);
  });
});
await agent.start(new AbortController().signal);
const timer = setInterval(() => {
  if (agent.deid!.holding.heldFrames < 5) return;
  clearInterval(timer);
  process.stdout.write(`${JSON.stringify({ sessionId: agent.sessionId })}\n`);
}, 20);
