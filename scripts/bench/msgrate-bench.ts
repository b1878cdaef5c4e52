// `rigcap bench capture`, message rate: small incompressible messages through the production Agent
// (zmq driver → queue → ChunkWriter → commit → seal), against a bare ZeroMQ PULL loop receiving
// the same messages, in paired rounds. The agent's window runs from the first send until the last
// chunk is committed and sealed (Agent.stop), so commits inside the run are paid for.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pull } from 'zeromq';
import type { Logger } from '../../agent/log.ts';
import { benchStream, startBenchAgent, waitFor } from './bench-agent.ts';
import { median, pairedRounds } from './figures.ts';
import { startPublisher } from './frame-publisher.ts';
import { randomMessages, type PayloadSet } from './payloads.ts';

export interface MsgRateResult {
  /** Median of agent/raw msg/s per pair (the `msgrate_1kib_ratio` figure). */
  ratio: number;
  ratios: number[];
  agentMsgPerSec: number[];
  rawMsgPerSec: number[];
  /** Chunks the agent committed and sealed per run. */
  agentChunks: number[];
  messages: number;
  drops: number;
}

/** Agent msg/s over raw ZeroMQ receive msg/s for `messages` random messages of `payloadBytes`. */
export async function benchMsgRate(options: {
  messages: number;
  payloadBytes: number;
  pairs: number;
  log: Logger;
  /** File size limit (tests, to see commits with few messages); the schema default otherwise. */
  chunkBytes?: number;
}): Promise<MsgRateResult> {
  // More distinct messages than an inner MCAP chunk (4 MiB) holds, so zstd never finds repeats.
  const payload = randomMessages({
    bytes: options.payloadBytes,
    count: Math.min(options.messages, Math.ceil((8 * 1024 * 1024) / options.payloadBytes)),
  });
  const dir = await mkdtemp(join(tmpdir(), 'rigcap-bench-msgrate-'));
  const agentChunks: number[] = [];
  let drops = 0;
  try {
    const rounds = await pairedRounds({
      pairs: options.pairs,
      baseline: async () => options.messages / (await rawRun(options.messages, payload)),
      subject: async (round) => {
        const run = await agentRun(join(dir, String(round)), options, payload);
        agentChunks.push(run.chunks);
        drops += run.drops;
        await rm(join(dir, String(round)), { recursive: true, force: true });
        return options.messages / run.seconds;
      },
    });
    return {
      ratio: median(rounds.ratios),
      ratios: rounds.ratios,
      agentMsgPerSec: rounds.subject,
      rawMsgPerSec: rounds.baseline,
      agentChunks,
      messages: options.messages,
      drops,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function rawRun(messages: number, payload: PayloadSet): Promise<number> {
  const pull = new Pull({ receiveHighWaterMark: 100_000, linger: 0 });
  await pull.bind('tcp://127.0.0.1:*');
  const publisher = await startPublisher({
    endpoint: pull.lastEndpoint!,
    topic: payload.topic,
    type: payload.type,
    encoding: payload.encoding,
    payloads: payload.messages,
    count: messages,
    window: 0,
    progress: () => 0,
  });
  try {
    const startNs = publisher.go();
    let received = 0;
    for await (const frames of pull) {
      // The baseline touches what the agent must: the three frames of a message.
      if (frames.length === 3) received++;
      if (received >= messages) break;
    }
    return Number(process.hrtime.bigint() - startNs) / 1e9;
  } finally {
    await publisher.close();
    pull.close();
  }
}

async function agentRun(
  dir: string,
  options: { messages: number; payloadBytes: number; log: Logger; chunkBytes?: number },
  payload: PayloadSet,
): Promise<{ seconds: number; chunks: number; drops: number }> {
  // The queue holds the whole burst (the publisher sends as fast as ZeroMQ takes it): the bench
  // measures how fast the pipeline empties it, not how a small queue drops.
  const { agent, endpoint } = await startBenchAgent({
    dir,
    payload,
    log: options.log,
    queue: {
      size: Math.min(1_000_000, options.messages),
      maxBytes: Math.max(64 * 1024 * 1024, options.messages * (options.payloadBytes + 256)),
    },
    ...(options.chunkBytes === undefined ? {} : { chunking: { maxBytes: options.chunkBytes } }),
  });
  const publisher = await startPublisher({
    endpoint,
    topic: payload.topic,
    type: payload.type,
    encoding: payload.encoding,
    payloads: payload.messages,
    count: options.messages,
    window: 0,
    progress: () => 0,
  });
  let stopped = false;
  try {
    const startNs = publisher.go();
    await publisher.sent;
    const totals = (): { received: number; written: number; drops: number } => {
      const c = agent.ledger.totals().get(benchStream);
      const drops = Object.values(c?.drops ?? {}).reduce<number>((s, n) => s + (n ?? 0), 0);
      return { received: c?.received ?? 0, written: c?.written ?? 0, drops };
    };
    await waitFor(() => totals().received, options.messages, { timeoutMs: 120_000 });
    // The window closes when the last chunk is committed and sealed and the session record closed.
    await agent.stop();
    stopped = true;
    const seconds = Number(process.hrtime.bigint() - startNs) / 1e9;
    const t = totals();
    if (t.written + t.drops !== options.messages)
      throw new Error(`bench msgrate: ${t.written} written + ${t.drops} dropped of ${options.messages}`);
    return { seconds, chunks: agent.sessionChunks, drops: t.drops };
  } finally {
    await publisher.close();
    if (!stopped) await agent.destroy();
  }
}
