// Every committed chunk must read back with valid CRCs and every message intact, whatever the mix:
// concurrent writes, random sizes (some spanning inner chunks), capture times jumping back and
// forth, rotations requested mid-flight.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ChunkWriter } from '../../../agent/pipeline/chunk-writer.ts';
import type { CommittedChunk } from '../../../agent/pipeline/chunk-types.ts';
import { withIndexedReader } from '../../../agent/pipeline/mcap-read.ts';
import { silentLogger } from '../../../agent/log.ts';
import { sample, streams } from './helpers.ts';

describe('ChunkWriter under a random mix of writes, jumps and rotations', () => {
  it('commits only files whose every message reads back intact', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            stream: fc.integer({ min: 0, max: 2 }),
            jumpMs: fc.integer({ min: -900, max: 900 }),
            bytes: fc.oneof(fc.integer({ min: 0, max: 3000 }), fc.integer({ min: 20_000, max: 70_000 })),
            awaitIt: fc.boolean(),
            rotate: fc.boolean().map((b) => b && Math.random() < 0.05),
          }),
          { minLength: 50, maxLength: 400 },
        ),
        async (ops) => {
          const dir = await mkdtemp(join(tmpdir(), 'rigcap-stress-'));
          try {
            const commits: CommittedChunk[] = [];
            const w = new ChunkWriter({
              spoolDir: dir,
              sessionId: 's',
              chunking: { maxBytes: 128 * 1024, maxDurationMs: 500, zstdLevel: 3, mcapChunkBytes: 16 * 1024 },
              logger: silentLogger(),
              onCommit: (c) => {
                commits.push(c);
              },
            });
            for (const s of streams) w.addStream(s);
            const pending: Array<Promise<unknown>> = [];
            let t = 1_700_000_000_000n * 1_000_000n;
            const written: string[] = [];
            for (const [i, op] of ops.entries()) {
              t += BigInt(op.jumpMs) * 1_000_000n;
              const s = sample(streams[op.stream]!, i, t, op.bytes);
              written.push(`${s.topic}#${i}:${op.bytes}`);
              const p = w.write({ ...s, monoNs: BigInt(i) * 10_000_000n });
              if (op.awaitIt) await p;
              else pending.push(p);
              if (op.rotate) pending.push(w.rotate('test'));
            }
            await Promise.all(pending);
            await w.close();
            const read: string[] = [];
            for (const c of commits) {
              await withIndexedReader(c.path, async (r) => {
                for await (const m of r.readMessages()) {
                  const topic = r.channelsById.get(m.channelId)!.topic;
                  if (topic !== '/tf_static') read.push(`${topic}#${m.sequence}:${m.data.byteLength}`);
                }
              });
            }
            expect(read.sort()).toEqual(written.filter((x) => !x.startsWith('/tf_static')).sort());
          } finally {
            await rm(dir, { recursive: true, force: true });
          }
        },
      ),
      { numRuns: 12 },
    );
  });
});
