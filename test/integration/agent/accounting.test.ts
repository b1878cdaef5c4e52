// Accounting through the whole Agent (driver → queue → writer → seal) against the sim rig over real
// ZeroMQ: after a graceful stop, every message the rig published is either written or dropped
// under a named cause, per stream — in the ledger, in the signed chunk records and in the MCAP files.
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { DropCause } from '../../../drivers/types.ts';
import { Agent } from '../../../agent/agent.ts';
import { Catalog } from '../../../agent/catalog/catalog.ts';
import { parseConfig } from '../../../agent/config/load.ts';
import { silentLogger } from '../../../agent/log.ts';
import { withIndexedReader } from '../../../agent/pipeline/mcap-read.ts';
import { startSimRig, simTopics, type SimRig, type SimSensor } from '../../../scripts/sim-rig/index.ts';
import { chunkPredicate } from '../../support/spool-check.ts';
import { waitFor } from '../../support/wait.ts';
import { simAgentConfigYaml, type SimAgentConfigOptions } from './sim-config.ts';

/** Causes applied after the driver handed a sample over (it was `received`); the rest happen before. */
const afterReceipt: ReadonlySet<DropCause> = new Set([
  'queue_full',
  'disk_budget',
  'disk_full',
  'write_error',
  'deid_backpressure',
  'deid_failed',
]);

let dir: string | undefined;
let rig: SimRig | undefined;
let agent: Agent | undefined;
afterEach(async () => {
  await agent?.destroy();
  await rig?.stop();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  dir = undefined;
  rig = undefined;
  agent = undefined;
});

interface Scenario {
  socket: 'pub' | 'push';
  messagesPerTopic: number;
  ratesHz: Record<string, number>;
  lidarPoints: number;
  queue?: SimAgentConfigOptions['queue'];
  maxMessageBytes?: number;
}

const sensors: Record<SimSensor, boolean> = {
  frontCamera: true,
  rearCamera: true,
  lidar: true,
  imu: true,
  gnss: true,
  tf: true,
};

async function capture(
  s: Scenario,
): Promise<{ published: Record<string, number>; spool: string; sessionId: string; agent: Agent }> {
  dir = await mkdtemp(join(tmpdir(), 'rigcap-agent-accounting-'));
  const spool = join(dir, 'spool');
  rig = await startSimRig({
    endpoint: 'tcp://127.0.0.1:0',
    socket: s.socket,
    sensors,
    camera: { width: 160, height: 96, frames: 2 },
    lidar: { points: s.lidarPoints },
    ratesHz: s.ratesHz,
    messagesPerTopic: s.messagesPerTopic,
    // PUB holds its first message until the agent subscribed, so the slow joiner loses nothing.
    waitForSubscribers: s.socket === 'pub' ? 1 : 0,
  });
  const yaml = simAgentConfigYaml({
    spoolDir: spool,
    keysDir: join(dir, 'secrets'),
    endpoint: rig.endpoint,
    socket: s.socket === 'pub' ? 'sub' : 'pull',
    sensors,
    chunking: { maxBytes: '256KiB', maxDurationMs: 300, mcapChunkBytes: '32KiB' },
    ...(s.queue === undefined ? {} : { queue: s.queue }),
    ...(s.maxMessageBytes === undefined ? {} : { maxMessageBytes: s.maxMessageBytes }),
  });
  const { config, digest } = parseConfig(yaml, { baseDir: dir });
  agent = new Agent({ config, configDigest: digest, log: silentLogger() });
  await agent.start(new AbortController().signal);
  const a = agent;
  await rig.done;
  const published = rig.published();
  // Everything published has been accounted for once written + every drop reaches it, per stream.
  const pending = (): string[] =>
    config.streams
      .filter((st) => {
        const t = a.ledger.totals().get(st.name);
        const settled = (t?.written ?? 0) + sumDrops(t?.drops);
        return settled < (published[st.topic] ?? 0);
      })
      .map((st) => st.name);
  await waitFor(() => pending().length === 0, {
    what: 'every published sample to be written or dropped under a cause',
    timeoutMs: 60_000,
    everyMs: 50,
    detail: () => `pending streams: ${pending().join(', ')}`,
  });
  await a.stop();
  return { published, spool, sessionId: a.sessionId ?? '', agent: a };
}

function sumDrops(
  drops: Partial<Record<DropCause, number>> | undefined,
  filter: (c: DropCause) => boolean = () => true,
): number {
  return Object.entries(drops ?? {}).reduce(
    (n, [cause, count]) => n + (filter(cause as DropCause) ? (count ?? 0) : 0),
    0,
  );
}

/** Per topic: what the chunk records, the catalog rows and the MCAP files of the session say. */
async function filesAndRecords(
  spool: string,
  sessionId: string,
): Promise<
  Map<
    string,
    {
      recordCount: number;
      latchedReplays: number;
      recordDrops: number;
      recordUpstreamLoss: number;
      mcapOriginals: number;
      mcapAll: number;
    }
  >
> {
  const out = new Map<
    string,
    {
      recordCount: number;
      latchedReplays: number;
      recordDrops: number;
      recordUpstreamLoss: number;
      mcapOriginals: number;
      mcapAll: number;
    }
  >();
  const entry = (topic: string) => {
    let e = out.get(topic);
    if (e === undefined)
      out.set(
        topic,
        (e = {
          recordCount: 0,
          latchedReplays: 0,
          recordDrops: 0,
          recordUpstreamLoss: 0,
          mcapOriginals: 0,
          mcapAll: 0,
        }),
      );
    return e;
  };
  const catalog = Catalog.open({ path: join(spool, 'catalog.sqlite'), logger: silentLogger() });
  try {
    const rows = catalog.listChunks({ sessionId });
    const names = (await readdir(join(spool, 'sessions', sessionId)))
      .filter((n) => n.endsWith('.mcap'))
      .sort();
    expect(rows.map((r) => r.name).sort()).toEqual(names);
    for (const row of rows) {
      const predicate = await chunkPredicate(spool, sessionId, row.name);
      for (const st of predicate['streams'] as Array<{
        topic: string;
        count: number;
        drops: Record<string, number>;
        upstreamLoss: number;
      }>) {
        const e = entry(st.topic);
        e.recordCount += st.count;
        e.recordDrops += Object.values(st.drops).reduce((a, b) => a + b, 0);
        e.recordUpstreamLoss += st.upstreamLoss;
      }
      for (const st of row.streams) entry(st.topic).latchedReplays += st.latchedReplays;
      await withIndexedReader(join(spool, row.path), async (reader) => {
        const topicOf = new Map([...reader.channelsById].map(([id, ch]) => [id, ch.topic]));
        for await (const m of reader.readMessages()) {
          const e = entry(topicOf.get(m.channelId) ?? '?');
          e.mcapAll += 1;
          // A latched replay is stamped with its chunk's start (logTime) and keeps its original publish time.
          if (m.logTime === m.publishTime) e.mcapOriginals += 1;
        }
      });
    }
  } finally {
    catalog.close();
  }
  return out;
}

async function expectBalanced(
  result: Awaited<ReturnType<typeof capture>>,
): Promise<Record<string, Partial<Record<DropCause, number>>>> {
  const { published, spool, sessionId, agent: a } = result;
  const totals = a.ledger.totals();
  const files = await filesAndRecords(spool, sessionId);
  const dropsByStream: Record<string, Partial<Record<DropCause, number>>> = {};
  for (const st of a.config.streams) {
    const t = totals.get(st.name);
    const want = published[st.topic] ?? 0;
    const written = t?.written ?? 0;
    const received = t?.received ?? 0;
    const drops = t?.drops ?? {};
    dropsByStream[st.name] = drops;
    const why = `${st.name}: published ${want}, ${JSON.stringify(t)}`;
    expect(want, why).toBeGreaterThan(0);
    // What the driver handed over, plus what it counted before handing over (loss, bad frames) = published.
    expect(received + sumDrops(drops, (c) => !afterReceipt.has(c)), why).toBe(want);
    // Every received sample was written or dropped after receipt under a named cause.
    expect(written + sumDrops(drops, (c) => afterReceipt.has(c)), why).toBe(received);
    const f = files.get(st.topic);
    // Signed records count every message in the file, latched replays included: the catalog knows how many were replays.
    expect((f?.recordCount ?? 0) - (f?.latchedReplays ?? 0), `${why}; files ${JSON.stringify(f)}`).toBe(
      written,
    );
    expect(f?.mcapOriginals ?? 0, `${why}; files ${JSON.stringify(f)}`).toBe(written);
    expect(f?.mcapAll ?? 0).toBe(f?.recordCount ?? 0);
    // The drops and upstream loss the records carry add up to the ledger's.
    expect((f?.recordDrops ?? 0) + (f?.recordUpstreamLoss ?? 0), `${why}; files ${JSON.stringify(f)}`).toBe(
      sumDrops(drops),
    );
    expect(f?.recordUpstreamLoss ?? 0).toBe(drops.upstream_loss ?? 0);
  }
  expect(a.ledger.unattributed).toEqual({});
  return dropsByStream;
}

const steadyRates = Object.fromEntries(simTopics.map((t) => [t.topic, t.latched ? 20 : 150]));

describe('Agent accounting against the sim rig', () => {
  for (const socket of ['push', 'pub'] as const) {
    it(`${socket}: written + drops = received, received + pre-receipt drops = published, in ledger, records and files`, async () => {
      const result = await capture({ socket, messagesPerTopic: 60, ratesHz: steadyRates, lidarPoints: 2000 });
      const drops = await expectBalanced(result);
      // At this load and with default queues nothing should be dropped at all.
      if (socket === 'push')
        expect(
          Object.values(drops).every((d) => sumDrops(d) === 0),
          JSON.stringify(drops),
        ).toBe(true);
    });
  }

  it('overload with tiny drop-oldest queues: queue_full drops are counted and everything still balances', async () => {
    const result = await capture({
      socket: 'push',
      messagesPerTopic: 400,
      ratesHz: Object.fromEntries(simTopics.map((t) => [t.topic, 5000])),
      lidarPoints: 4000,
      queue: { size: 1, maxBytes: 256 * 1024, dropPolicy: 'drop-oldest' },
      maxMessageBytes: 256 * 1024,
    });
    const drops = await expectBalanced(result);
    const queueFull = Object.values(drops).reduce((n, d) => n + (d.queue_full ?? 0), 0);
    expect(queueFull, JSON.stringify(drops)).toBeGreaterThan(0);
  });
});
