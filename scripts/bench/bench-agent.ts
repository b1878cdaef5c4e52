// The production Agent as the capture and msgrate benches run it: one ZeroMQ PULL stream, the
// schema defaults for everything else (queue, chunk limits, zstd, signing, catalog), with only
// what cannot run in a bench turned off: the clock probes (no chronyd), the HTTP endpoint, and
// de-identification (measured by `rigcap bench deid`; camera streams are marked exempt).
import { createServer } from 'node:net';
import { join } from 'node:path';
import { Agent } from '../../agent/agent.ts';
import { parseConfig } from '../../agent/config/load.ts';
import type { Logger } from '../../agent/log.ts';
import type { PayloadSet } from './payloads.ts';

/** The stream name every bench agent records under. */
export const benchStream = 'sensor';

/** A free loopback TCP port (closed again before it is used: fine for a bench). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (typeof address !== 'object' || address === null) throw new Error('no port');
  return address.port;
}

/** Starts an Agent receiving `payload`'s stream on a fresh loopback endpoint. */
export async function startBenchAgent(options: {
  dir: string;
  payload: Pick<PayloadSet, 'topic' | 'type' | 'encoding' | 'kind'>;
  log: Logger;
  /** Overrides of the stream's queue (msgrate holds its whole burst); defaults otherwise. */
  queue?: { size?: number; maxBytes?: number };
  /** Overrides of chunk limits (tests); schema defaults otherwise. */
  chunking?: { maxBytes?: number; maxDurationMs?: number };
}): Promise<{ agent: Agent; endpoint: string }> {
  const endpoint = `tcp://127.0.0.1:${await freePort()}`;
  const { config, digest } = parseConfig(
    JSON.stringify({
      version: 1,
      rig: { id: 'bench' },
      spool: { dir: join(options.dir, 'spool') },
      keys: { dir: join(options.dir, 'secrets') },
      streams: [
        {
          name: benchStream,
          driver: 'zmq',
          endpoint,
          socket: 'pull',
          bind: true,
          topic: options.payload.topic,
          type: options.payload.type,
          encoding: options.payload.encoding,
          ...(options.queue === undefined ? {} : { queue: options.queue }),
          ...(options.payload.kind === 'camera' ? { deid: { exempt: true } } : {}),
        },
      ],
      ...(options.chunking === undefined ? {} : { chunking: options.chunking }),
      timesync: { chrony: false, ptp: false },
      deid: { enabled: false },
      ops: { listen: '', watchdog: false },
    }),
    { baseDir: options.dir },
  );
  const agent = new Agent({ config, configDigest: digest, log: options.log });
  await agent.start(AbortSignal.timeout(60_000));
  return { agent, endpoint };
}

/** Resolves once `count()` reaches `target`, looking every `pollMs` (not per message). */
export async function waitFor(
  count: () => number,
  target: number,
  options: { timeoutMs: number; pollMs?: number },
): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  while (count() < target) {
    if (Date.now() > deadline)
      throw new Error(`bench: waited ${options.timeoutMs} ms for ${target}, got ${count()}`);
    await new Promise((r) => setTimeout(r, options.pollMs ?? 2));
  }
}
