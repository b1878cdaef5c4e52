// `rigcap bench capture`, throughput: sensor frames published over ZeroMQ into the production Agent
// (zmq driver → queue → ChunkWriter → commit → seal → catalog, schema-default settings), against
// a raw baseline that receives the same messages on a bare PULL socket and does the same hashing,
// writing and fsync with the same overlap (the ChunkWriter's own HashingFile: hash on the caller,
// two writes behind, background datasync), rotating files at the same size. Each side's window runs
// from the first send until its last file is committed (for the agent: sealed, session closed).
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Pull } from 'zeromq';
import type { Logger } from '../../agent/log.ts';
import { HashingFile, durableRename } from '../../agent/pipeline/chunk-file.ts';
import { benchStream, startBenchAgent, waitFor } from './bench-agent.ts';
import { median, pairedRounds } from './figures.ts';
import { startPublisher } from './frame-publisher.ts';
import type { PayloadSet } from './payloads.ts';

/** The schema default of `chunking.maxBytes`: where both sides start a new file. */
const defaultChunkBytes = 256 * 1024 * 1024;

export interface CaptureThroughputOptions {
  /** Scratch folder (removed afterwards). */
  dir: string;
  payload: PayloadSet;
  /** Frames per run. */
  frames: number;
  /** Baseline/agent pairs; the figure is the median of the pairs' ratios. */
  pairs: number;
  log: Logger;
  /** Frames the publisher may be ahead of what was written (below the default queue's 64 MiB). */
  window?: number;
  /** File size limit for both sides; the schema default unless a test needs several files from few frames. */
  chunkBytes?: number;
}

export interface CaptureThroughputResult {
  /** Median of agent/raw per pair (the `throughput_*_ratio` figure). */
  ratio: number;
  ratios: number[];
  agentBytesPerSec: number[];
  rawBytesPerSec: number[];
  /** Chunks the agent committed and sealed per run. */
  agentChunks: number[];
  /** Mean message size in bytes. */
  frameBytes: number;
  /** Samples the agent dropped in any run (a valid run drops none). */
  drops: number;
}

/** Runs the paired throughput rounds for one payload. */
export async function benchCaptureThroughput(
  options: CaptureThroughputOptions,
): Promise<CaptureThroughputResult> {
  const { payload } = options;
  const frameBytes = payload.messages.reduce((s, m) => s + m.byteLength, 0) / payload.messages.length;
  const window = options.window ?? Math.max(1, Math.min(32, Math.floor((48 * 1024 * 1024) / frameBytes)));
  const chunkBytes = options.chunkBytes ?? defaultChunkBytes;
  const bytes = (): number => {
    let total = 0;
    for (let i = 0; i < options.frames; i++)
      total += payload.messages[i % payload.messages.length]!.byteLength;
    return total;
  };
  const runBytes = bytes();
  const agentChunks: number[] = [];
  let drops = 0;
  try {
    const rounds = await pairedRounds({
      pairs: options.pairs,
      baseline: async (round) => {
        const seconds = await rawRun(join(options.dir, `raw-${round}`), options, window, chunkBytes);
        await rm(join(options.dir, `raw-${round}`), { recursive: true, force: true });
        return runBytes / seconds;
      },
      subject: async (round) => {
        const run = await agentRun(join(options.dir, `agent-${round}`), options, window, chunkBytes);
        agentChunks.push(run.chunks);
        drops += run.drops;
        await rm(join(options.dir, `agent-${round}`), { recursive: true, force: true });
        return runBytes / run.seconds;
      },
    });
    return {
      ratio: median(rounds.ratios),
      ratios: rounds.ratios,
      agentBytesPerSec: rounds.subject,
      rawBytesPerSec: rounds.baseline,
      agentChunks,
      frameBytes,
      drops,
    };
  } finally {
    await rm(options.dir, { recursive: true, force: true });
  }
}

async function agentRun(
  dir: string,
  options: CaptureThroughputOptions,
  window: number,
  chunkBytes: number,
): Promise<{ seconds: number; chunks: number; drops: number }> {
  const { agent, endpoint } = await startBenchAgent({
    dir,
    payload: options.payload,
    log: options.log,
    ...(chunkBytes === defaultChunkBytes ? {} : { chunking: { maxBytes: chunkBytes } }),
  });
  const counts = (): { received: number; written: number; drops: number } => {
    const c = agent.ledger.totals().get(benchStream);
    const drops = Object.values(c?.drops ?? {}).reduce<number>((s, n) => s + (n ?? 0), 0);
    return { received: c?.received ?? 0, written: c?.written ?? 0, drops };
  };
  const publisher = await startPublisher({
    endpoint,
    topic: options.payload.topic,
    type: options.payload.type,
    encoding: options.payload.encoding,
    payloads: options.payload.messages,
    count: options.frames,
    window,
    // Drops count as done, so a run that drops ends (and fails) instead of waiting forever.
    progress: () => {
      const c = counts();
      return c.written + c.drops;
    },
  });
  let stopped = false;
  try {
    const startNs = publisher.go();
    await publisher.sent;
    await waitFor(() => counts().received, options.frames, { timeoutMs: 120_000 });
    // The window closes when the last chunk is committed and sealed and the session record closed.
    await agent.stop();
    stopped = true;
    const seconds = Number(process.hrtime.bigint() - startNs) / 1e9;
    const c = counts();
    if (c.written !== options.frames)
      throw new Error(
        `bench capture: the agent wrote ${c.written} of ${options.frames} frames (${c.drops} dropped)`,
      );
    return { seconds, chunks: agent.sessionChunks, drops: c.drops };
  } finally {
    await publisher.close();
    if (!stopped) await agent.destroy();
  }
}

async function rawRun(
  dir: string,
  options: CaptureThroughputOptions,
  window: number,
  chunkBytes: number,
): Promise<number> {
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const pull = new Pull({ linger: 0 });
  await pull.bind('tcp://127.0.0.1:*');
  let written = 0;
  const publisher = await startPublisher({
    endpoint: pull.lastEndpoint!,
    topic: options.payload.topic,
    type: options.payload.type,
    encoding: options.payload.encoding,
    payloads: options.payload.messages,
    count: options.frames,
    window,
    progress: () => written,
  });
  try {
    const startNs = publisher.go();
    let index = 0;
    let fileBytes = 0;
    let file: HashingFile | undefined;
    const commit = async (f: HashingFile): Promise<void> => {
      f.sha256();
      await f.sync();
      await f.close();
      await durableRename(f.path, f.path.replace(/\.partial$/, ''), { fromDir: dir, toDir: dir });
    };
    for await (const frames of pull) {
      const data = frames[2];
      if (frames.length !== 3 || data === undefined) throw new Error('bench capture: malformed message');
      file ??= await HashingFile.create(join(dir, `file-${++index}.raw.partial`));
      await file.write([data]);
      fileBytes += data.byteLength;
      written += 1;
      if (fileBytes >= chunkBytes) {
        await commit(file);
        file = undefined;
        fileBytes = 0;
      }
      if (written >= options.frames) break;
    }
    if (file !== undefined) await commit(file);
    return Number(process.hrtime.bigint() - startNs) / 1e9;
  } finally {
    await publisher.close();
    pull.close();
  }
}
