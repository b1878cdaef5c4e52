import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ChunkWriter } from '../../../agent/pipeline/chunk-writer.ts';
import { salvageSpool } from '../../../agent/pipeline/salvage.ts';
import { withIndexedReader } from '../../../agent/pipeline/mcap-read.ts';
import type { CommittedChunk } from '../../../agent/pipeline/chunk-types.ts';
import { silentLogger } from '../../../agent/log.ts';
import { chunking, sample, sha256File, streams } from './helpers.ts';

let work: string;
let source: CommittedChunk;
/** End offset of each inner chunk's message index and the messages complete up to there. */
let boundaries: Array<{ endOffset: number; messages: number }>;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'rigcap-salvage-'));
  const w = new ChunkWriter({
    spoolDir: join(work, 'src'),
    sessionId: 's',
    chunking: chunking({ maxBytes: 1 << 30, mcapChunkBytes: 16 * 1024 }),
    logger: silentLogger(),
    hooks: {
      atOpen: () => ({
        attachments: [
          {
            name: 'calibration/cam.yaml',
            mediaType: 'application/yaml',
            data: new TextEncoder().encode('a: 1'),
          },
        ],
      }),
    },
  });
  for (const s of streams) w.addStream(s);
  for (let i = 0; i < 300; i++) await w.write(sample(streams[i % 3]!, i, BigInt(i + 1) * 1_000_000n, 1500));
  source = (await w.close())!;
  boundaries = await withIndexedReader(source.path, async (reader) => {
    let total = 0;
    const out = [];
    for (const ci of reader.chunkIndexes) {
      let n = 0;
      for await (const _ of reader.readMessages({
        startTime: ci.messageStartTime,
        endTime: ci.messageEndTime,
      }))
        n++;
      // readMessages by time may include neighbours with equal times; times here are unique per chunk.
      total += n;
      out.push({ endOffset: Number(ci.chunkStartOffset + ci.chunkLength), messages: total });
    }
    return out;
  });
  expect(boundaries.length).toBeGreaterThan(10);
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

function expectedMessages(truncateAt: number): number {
  let n = 0;
  for (const b of boundaries) if (b.endOffset <= truncateAt) n = b.messages;
  return n;
}

describe('salvage', () => {
  it('recovers everything before the last complete inner chunk, at many truncation offsets', async () => {
    const bytes = await readFile(source.path);
    const offsets = new Set<number>([0, 5, 8, 40, bytes.length - 1, bytes.length]);
    for (const b of boundaries)
      for (const d of [-1, 0, 1, 17]) offsets.add(Math.min(bytes.length, Math.max(0, b.endOffset + d)));
    for (let i = 0; i < 20; i++) offsets.add(Math.floor(Math.random() * bytes.length));
    let n = 0;
    for (const at of offsets) {
      const spool = join(work, `t${n++}`);
      const dir = join(spool, 'sessions', 's');
      await mkdir(dir, { recursive: true });
      await writeFile(join(dir, 'chunk-000001.mcap.partial'), bytes.subarray(0, at));
      const [result] = await salvageSpool({ spoolDir: spool, logger: silentLogger() });
      const expected = expectedMessages(at);
      expect(result?.messages, `truncated at ${at}`).toBe(expected);
      const sessionFiles = await readdir(dir);
      expect(sessionFiles.some((f) => f.endsWith('.partial'))).toBe(false);
      const quarantined = await readdir(join(spool, 'quarantine', 's'));
      expect(quarantined.some((f) => f.endsWith('.mcap'))).toBe(false);
      if (expected === 0) {
        expect(result?.outcome).toBe('quarantined');
        expect(quarantined).toEqual(['chunk-000001.mcap.corrupt']);
        expect(sessionFiles).toEqual([]);
      } else {
        expect(result?.outcome).toBe('salvaged');
        expect(sessionFiles).toEqual(['chunk-000001.mcap']);
        const chunk = result!.chunk!;
        expect(chunk.sha256).toBe(await sha256File(chunk.path));
        await withIndexedReader(chunk.path, async (reader) => {
          let count = 0;
          for await (const _ of reader.readMessages()) count++;
          expect(count).toBe(expected);
          expect(reader.channelsById.size).toBe(3);
          const atts = [];
          for await (const a of reader.readAttachments()) atts.push(a.name);
          expect(atts).toEqual(['calibration/cam.yaml']);
          const meta = [];
          for await (const m of reader.readMetadata({ name: 'rigcap.salvage' }))
            meta.push(m.metadata.get('recoveredMessages'));
          expect(meta).toEqual([String(expected)]);
        });
      }
      await rm(spool, { recursive: true, force: true });
    }
  });

  it('finishes an interrupted salvage: a partial next to its committed chunk is only moved away', async () => {
    const spool = join(work, 'resume');
    const dir = join(spool, 'sessions', 's');
    await mkdir(dir, { recursive: true });
    await copyFile(source.path, join(dir, 'chunk-000001.mcap'));
    await copyFile(source.path, join(dir, 'chunk-000001.mcap.partial'));
    await writeFile(join(dir, 'chunk-000002.mcap.salvaging'), 'half');
    const results = await salvageSpool({ spoolDir: spool, logger: silentLogger() });
    expect(results.map((r) => r.outcome)).toEqual(['salvaged']);
    expect(await readdir(dir)).toEqual(['chunk-000001.mcap']);
    expect(await sha256File(join(dir, 'chunk-000001.mcap'))).toBe(source.sha256);
  });
});
