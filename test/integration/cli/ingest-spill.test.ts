// `rigcap ingest` through the real MCAP replay path with a de-id slower than the replay: frames
// de-id cannot take at once are sealed in the holding area and blurred later, so every frame of
// the recording reaches the spool blurred, with its original stamp, and nothing is abandoned at
// the end — whatever the stop budget.
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ingestRecording } from '../../../agent/cli/ingest.ts';
import { FsSource } from '../../../agent/keys/fs-source.ts';
import { silentLogger } from '../../../agent/log.ts';
import { withIndexedReader } from '../../../agent/pipeline/mcap-read.ts';
import { verifyTree } from '../../../agent/records/index.ts';
import { runCli } from '../../support/cli.ts';
import { writeImageRecording, type ImageRecording } from '../../support/image-recording.ts';

const slowWorker = new URL('../deid/workers/slow-blur-worker.ts', import.meta.url);
const frames = 48;
let dir: string;
let bag: string;
let recording: ImageRecording;

beforeAll(async () => {
  // 40 ms a frame on one worker: the replay hands over all frames at once, far faster than that.
  process.env['RIGCAP_TEST_DEID_DELAY_MS'] = '40';
  dir = await mkdtemp(join(tmpdir(), 'rigcap-ingest-spill-'));
  bag = join(dir, 'front.mcap');
  recording = await writeImageRecording(bag, { frames });
});
afterEach(async () => {
  for (const name of await readdir(dir))
    if (name !== 'front.mcap') await rm(join(dir, name), { recursive: true });
});

async function ingest(deid: Record<string, unknown>): Promise<{
  spool: string;
  result: Awaited<ReturnType<typeof ingestRecording>>;
  progress: string;
}> {
  const spool = join(dir, 'spool');
  const progress = new PassThrough();
  let text = '';
  progress.on('data', (b: Buffer) => (text += b.toString()));
  const result = await ingestRecording(bag, {
    out: spool,
    keysDir: join(dir, 'secrets'),
    rigId: 'ingest-test',
    log: silentLogger(),
    signal: new AbortController().signal,
    progress,
    cwd: dir,
    deid: { workers: 1, maxPending: 1, ...deid },
    deidWorkerUrl: slowWorker,
    // Far less than the ~2 s de-id needs for the recording: de-id must not be bound by it.
    stopTimeoutMs: 300,
  });
  return { spool, result, progress: text };
}

interface Written {
  logTime: bigint;
  data: Buffer;
}

async function imageMessages(spool: string, sessionId: string): Promise<Written[]> {
  const folder = join(spool, 'sessions', sessionId);
  const out: Written[] = [];
  for (const f of (await readdir(folder)).filter((n) => n.endsWith('.mcap')).sort())
    await withIndexedReader(join(folder, f), async (reader) => {
      for await (const m of reader.readMessages())
        if (reader.channelsById.get(m.channelId)!.topic.includes('camera'))
          out.push({ logTime: m.logTime, data: Buffer.from(m.data) });
    });
  return out;
}

interface DeidLineageRecord {
  kind: string;
  onBackpressure?: string;
  maxLateDelayNs?: string;
  frames?: { in: number; blurredLate: number; heldLost: number; dropped: number };
}

async function deidLineage(spool: string, sessionId: string): Promise<DeidLineageRecord[]> {
  const folder = join(spool, 'sessions', sessionId);
  const out: DeidLineageRecord[] = [];
  for (const f of (await readdir(folder)).filter((n) => n.endsWith('.mcap.dsse.json'))) {
    const env = JSON.parse(await readFile(join(folder, f), 'utf8')) as { payload: string };
    const st = JSON.parse(Buffer.from(env.payload, 'base64').toString('utf8')) as {
      predicate: { transforms: DeidLineageRecord[] };
    };
    out.push(...st.predicate.transforms.filter((t) => t.kind === 'de-identification'));
  }
  return out;
}

const blurredOf = (data: Uint8Array): Buffer =>
  Buffer.concat([Buffer.from('BLURRED'), createHash('sha256').update(data).digest()]);

describe('rigcap ingest with de-id slower than the replay', () => {
  it('spill mode delivers every frame blurred, with its original stamp, though de-id outlasts the stop budget', async () => {
    const { spool, result, progress } = await ingest({ mode: 'spill' });
    const topic = result.topics[0]!;
    expect(topic.messages).toBe(frames);
    expect(topic.drops).toEqual({});
    expect(topic.written).toBe(frames);

    const written = await imageMessages(spool, result.sessionId!);
    expect(written).toHaveLength(frames);
    // Every frame in the chunks is the blurred form of exactly one source frame, at its own stamp.
    const expected = new Map(
      recording.messages.map((m, i) => [blurredOf(m).toString('hex'), recording.publishNs[i]]),
    );
    for (const w of written) expect(expected.get(w.data.toString('hex'))).toBe(w.logTime);
    expect(new Set(written.map((w) => w.data.toString('hex'))).size).toBe(frames);

    const lineage = await deidLineage(spool, result.sessionId!);
    const late = lineage.reduce((n, l) => n + (l.frames?.blurredLate ?? 0), 0);
    expect(late).toBeGreaterThan(0);
    expect(lineage.every((l) => l.onBackpressure === 'spill')).toBe(true);
    expect(lineage.some((l) => BigInt(l.maxLateDelayNs ?? '0') > 0n)).toBe(true);
    expect(lineage.reduce((n, l) => n + (l.frames?.in ?? 0), 0)).toBe(frames);
    expect(progress).toContain('frames still held for de-id');

    // The card says how de-id went: spill mode, frames blurred late, none lost.
    const card = join(dir, 'card.md');
    const exported = await runCli([
      'export',
      result.sessionId!,
      '--format',
      'card',
      '--out',
      card,
      '--spool',
      spool,
    ]);
    expect(exported.code).toBe(0);
    expect(await readFile(card, 'utf8')).toMatch(
      new RegExp(
        `spill mode: ${late} frames held sealed and blurred late \\(longest hold [0-9.]+ s\\), 0 held frames never blurred`,
      ),
    );

    // The holding area is gone, and the spool verifies.
    expect(await readdir(join(spool, 'holding'))).toEqual([]);
    const report = await verifyTree(new FsSource(spool));
    expect(report.failures).toEqual([]);
  });

  it('inline mode also drains the whole de-id queue at the end, past the stop budget, losing nothing', async () => {
    const { spool, result } = await ingest({ mode: 'inline' });
    const topic = result.topics[0]!;
    expect(topic.drops).toEqual({});
    expect(topic.written).toBe(frames);
    const written = await imageMessages(spool, result.sessionId!);
    expect(new Set(written.map((w) => w.data.toString('hex')))).toEqual(
      new Set(recording.messages.map((m) => blurredOf(m).toString('hex'))),
    );
  });
});
