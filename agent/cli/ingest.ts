// `rigcap ingest BAG.mcap… --out DIR`: re-process existing (ROS 2) MCAP recordings through de-id,
// stamping and signing into a spool at DIR, one session per recording. Messages are kept byte for
// byte unless de-id changed them; every chunk record names the source recording and its digest.
import { existsSync } from 'node:fs';
import type { DropCause } from '../../drivers/types.ts';
import { basename, resolve } from 'node:path';
import { Agent } from '../agent.ts';
import { sha256OfFile } from '../catalog/reconcile.ts';
import { parseConfig } from '../config/load.ts';
import { RigcapError } from '../errors.ts';
import { createLogger, type Logger } from '../log.ts';
import { withIndexedReader } from '../pipeline/mcap-read.ts';
import { parseFlags, writeJson } from './args.ts';
import { ExitCode, type Command } from './command.ts';

interface SourceChannel {
  topic: string;
  type: string;
  messageEncoding: string;
  latched: boolean;
  messages: number;
}

/** Stream names for a bag's topics: `/camera/front/image` → `camera.front.image`, made unique. */
export function streamNameFor(topic: string, taken: Set<string>): string {
  let base =
    topic
      .replace(/^\/+/, '')
      .replaceAll('/', '.')
      .replace(/[^A-Za-z0-9_.-]/g, '_')
      .slice(0, 56) || '_';
  for (let n = 2; taken.has(base); n++) base = `${base.replace(/-\d+$/, '')}-${n}`;
  taken.add(base);
  return base;
}

async function channelsOf(file: string): Promise<SourceChannel[]> {
  return withIndexedReader(file, async (reader) => {
    const counts = reader.statistics?.channelMessageCounts;
    return [...reader.channelsById.values()].map((ch) => {
      const qos = ch.metadata.get('offered_qos_profiles') ?? '';
      return {
        topic: ch.topic,
        type: reader.schemasById.get(ch.schemaId)?.name ?? '',
        messageEncoding: ch.messageEncoding,
        // rosbag2 writes durability 1 (transient_local) for latched publishers such as /tf_static.
        latched: /durability:\s*(1|transient_local)\b/.test(qos) || ch.topic === '/tf_static',
        messages: Number(counts?.get(ch.id) ?? 0n),
      };
    });
  });
}

/** What one recording became. */
export interface IngestResult {
  sha256: string;
  sessionId: string | undefined;
  chunks: number;
  topics: Array<{
    topic: string;
    type: string;
    messages: number;
    written: number;
    drops: Partial<Record<DropCause, number>>;
  }>;
}

/** Where and how `ingestRecording` writes. */
export interface IngestOptions {
  out: string;
  keysDir: string;
  rigId: string;
  log: Logger;
  signal: AbortSignal;
  /** Where progress lines go (stderr). */
  progress: NodeJS.WritableStream;
  cwd: string;
  /** Config overrides for de-id (tests: a small holding budget, inline mode). */
  deid?: Record<string, unknown>;
  /** Overrides the de-id worker entry (tests use a slow stand-in). */
  deidWorkerUrl?: URL;
  /** Budget for what follows de-id at the end (seal, close); de-id itself is never cut short. */
  stopTimeoutMs?: number;
}

/** One mcap-replay stream per channel of the recording, named uniquely, with queues nothing overflows. */
function replayStreams(bag: string, channels: Awaited<ReturnType<typeof channelsOf>>) {
  const taken = new Set<string>();
  return channels.map((c) => ({
    name: streamNameFor(c.topic, taken),
    driver: 'mcap-replay',
    file: bag,
    speed: 'max',
    topic: c.topic,
    sourceTopic: c.topic,
    type: c.type,
    encoding: c.messageEncoding === 'cdr' || c.messageEncoding === 'json' ? c.messageEncoding : 'bytes',
    latched: c.latched,
    // A replay never outruns the writer on purpose: size queues so nothing is dropped for lack of room.
    queue: { size: 4096, maxBytes: '512MiB', dropPolicy: 'drop-newest' },
    maxMessageBytes: '256MiB',
  }));
}

/**
 * Re-processes one recording into a session of the spool at `out`. De-id of every image frame is
 * completed before the session closes, however long it takes: nothing is abandoned at the end.
 */
export async function ingestRecording(bag: string, options: IngestOptions): Promise<IngestResult> {
  const channels = (await channelsOf(bag)).filter((c) => c.type !== '');
  const streams = replayStreams(bag, channels);
  const sha256 = await sha256OfFile(bag);
  const { config, digest } = parseConfig(
    JSON.stringify({
      version: 1,
      rig: { id: options.rigId },
      spool: { dir: options.out },
      keys: { dir: options.keysDir },
      streams,
      timesync: { chrony: false, ptp: false },
      ops: { listen: '', heartbeatIntervalMs: 3_600_000 },
      ...(options.deid === undefined ? {} : { deid: options.deid }),
    }),
    { baseDir: options.cwd },
  );
  const agent = new Agent({
    config,
    configDigest: digest,
    log: options.log,
    extraTransforms: [
      {
        kind: 'ingest',
        source: { name: basename(bag), sha256 },
        note: "clock state at original capture unknown; times are the recording's",
      },
    ],
    ...(options.deidWorkerUrl === undefined ? {} : { deidWorkerUrl: options.deidWorkerUrl }),
  });
  options.progress.write(
    `ingesting ${basename(bag)}: ${channels.length} topics, ${channels.reduce((n, c) => n + c.messages, 0)} messages\n`,
  );
  await agent.start(options.signal);
  await agent.intakeEnded();
  // Every frame is de-identified however long that takes (no stop budget for de-id); the frames
  // still held for it are shown on stderr meanwhile.
  await agent.stop({
    reason: 'end of recording',
    deid: 'complete',
    ...(options.stopTimeoutMs === undefined ? {} : { timeoutMs: options.stopTimeoutMs }),
    onDeidProgress: (held) =>
      options.progress.write(`de-identifying ${basename(bag)}: ${held} frames still held for de-id\n`),
  });
  const totals = agent.ledger.totals();
  return {
    sha256,
    sessionId: agent.sessionId,
    chunks: agent.sessionChunks,
    topics: channels.map((c, i) => {
      const t = totals.get(streams[i]!.name);
      return {
        topic: c.topic,
        type: c.type,
        messages: c.messages,
        written: t?.written ?? 0,
        drops: t?.drops ?? {},
      };
    }),
  };
}

const command: Command = {
  name: 'ingest',
  summary: 're-process existing MCAP recordings through de-id, stamping and signing into a spool',
  usage: [
    'usage: rigcap ingest BAG.mcap… --out DIR [--rig-id ID] [--keys DIR] [--json]',
    "  --out DIR     spool to write (same layout as the agent's); one session per recording",
    '  --rig-id ID   signer id for the records (default: ingest)',
    '  --keys DIR    private key folder (default DIR.secrets, created 0700)',
  ].join('\n'),
  async run(argv, io) {
    const { values, positionals } = parseFlags('ingest', argv, {
      out: { type: 'string' },
      'rig-id': { type: 'string' },
      keys: { type: 'string' },
      json: { type: 'boolean', default: false },
    });
    if (positionals.length === 0)
      throw new RigcapError('RIGCAP_USAGE', 'rigcap ingest: name at least one BAG.mcap');
    if (values.out === undefined)
      throw new RigcapError('RIGCAP_USAGE', 'rigcap ingest: --out DIR is required');
    const out = resolve(io.cwd, values.out);
    const keysDir = resolve(io.cwd, values.keys ?? `${out}.secrets`);
    const log = createLogger({ json: true, fd: 2, level: io.env['RIGCAP_LOG_LEVEL'] ?? 'warn' });
    const results = [];
    for (const bagArg of positionals) {
      const bag = resolve(io.cwd, bagArg);
      if (!existsSync(bag)) throw new RigcapError('RIGCAP_NOT_FOUND', `${bag} does not exist`);
      results.push({
        bag: bagArg,
        ...(await ingestRecording(bag, {
          out,
          keysDir,
          rigId: values['rig-id'] ?? 'ingest',
          log,
          signal: io.signal,
          progress: io.stderr,
          cwd: io.cwd,
        })),
      });
    }
    if (values.json) writeJson(io.stdout, { ok: true, out, sessions: results });
    else
      for (const r of results)
        io.stdout.write(
          `${r.bag}: session ${r.sessionId}, ${r.chunks} chunks, ${r.topics.reduce((n, t) => n + t.written, 0)} of ${r.topics.reduce((n, t) => n + t.messages, 0)} messages written\n`,
        );
    return ExitCode.ok;
  },
};

export default command;
