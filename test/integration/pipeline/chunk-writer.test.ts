import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { McapStreamReader } from '@mcap/core';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ChunkWriter } from '../../../agent/pipeline/chunk-writer.ts';
import { HashingFile, type ChunkFile } from '../../../agent/pipeline/chunk-file.ts';
import { decompressHandlers } from '../../../agent/pipeline/chunk-compression.ts';
import { withIndexedReader } from '../../../agent/pipeline/mcap-read.ts';
import type { CommittedChunk } from '../../../agent/pipeline/chunk-types.ts';
import { isRigcapError } from '../../../agent/errors.ts';
import { silentLogger } from '../../../agent/log.ts';
import { chunking, sample, sha256File, streams } from './helpers.ts';

const [imu, tfStatic, gnss] = streams as [(typeof streams)[0], (typeof streams)[0], (typeof streams)[0]];
const MS = 1_000_000n;
let spool: string;

beforeEach(async () => {
  spool = await mkdtemp(join(tmpdir(), 'rigcap-cw-'));
});
afterEach(async () => {
  await rm(spool, { recursive: true, force: true });
});

function writer(overrides: Partial<ConstructorParameters<typeof ChunkWriter>[0]> = {}): {
  w: ChunkWriter;
  commits: CommittedChunk[];
} {
  const commits: CommittedChunk[] = [];
  const w = new ChunkWriter({
    spoolDir: spool,
    sessionId: 's1',
    chunking: chunking(),
    logger: silentLogger(),
    onCommit: (c) => {
      commits.push(c);
    },
    ...overrides,
  });
  for (const s of streams) w.addStream(s);
  return { w, commits };
}

async function readAll(
  path: string,
): Promise<Array<{ topic: string; seq: number; logTime: bigint; data: Uint8Array }>> {
  return withIndexedReader(path, async (reader) => {
    const out = [];
    for await (const m of reader.readMessages()) {
      out.push({
        topic: reader.channelsById.get(m.channelId)?.topic ?? '?',
        seq: m.sequence,
        logTime: m.logTime,
        data: m.data,
      });
    }
    return out;
  });
}

describe('ChunkWriter', () => {
  it('commits self-contained files that both readers open, with sha256 computed while writing', async () => {
    const { w, commits } = writer({ chunking: chunking({ maxBytes: 40 * 1024, zstdLevel: 0 }) });
    await w.write(sample(tfStatic, 0, 1n * MS));
    for (let i = 0; i < 200; i++) {
      await w.write(sample(imu, i, (10n + BigInt(i)) * MS));
      if (i % 10 === 0) await w.write(sample(gnss, i / 10, (10n + BigInt(i)) * MS, 64));
    }
    await w.close();
    await w.close();
    expect(commits.length).toBeGreaterThan(2);
    expect(commits.map((c) => c.chunkIndex)).toEqual(commits.map((_, i) => i + 1));
    const names = (await readdir(join(spool, 'sessions', 's1'))).sort();
    expect(names).toEqual(commits.map((c) => c.name));
    let imuSeqs: number[] = [];
    for (const c of commits) {
      expect(c.name).toMatch(/^chunk-\d{6}\.mcap$/);
      expect(c.sha256).toBe(await sha256File(c.path));
      expect(c.bytes).toBe((await stat(c.path)).size);
      const msgs = await readAll(c.path);
      expect(msgs.length).toBe(c.messages);
      // The latched tf_static value opens every chunk.
      expect(msgs[0]?.topic).toBe('/tf_static');
      expect(c.streams.find((s) => s.stream === 'tf_static')?.count).toBeGreaterThanOrEqual(1);
      imuSeqs = imuSeqs.concat(msgs.filter((m) => m.topic === '/imu').map((m) => m.seq));
      await withIndexedReader(c.path, async (reader) => {
        expect(reader.header.profile).toBe('ros2');
        for (const ch of reader.channelsById.values()) {
          expect(ch.schemaId).toBeGreaterThan(0);
          expect(ch.metadata.get('stream')).toBeDefined();
          expect(ch.metadata.get('latched')).toBe(ch.topic === '/tf_static' ? 'true' : 'false');
        }
        expect(reader.channelsById.size).toBe(3);
        expect([...reader.schemasById.values()].find((s) => s.name === 'rigcap.gnss')?.encoding).toBe(
          'jsonschema',
        );
        expect(
          [...reader.channelsById.values()]
            .find((ch) => ch.topic === '/imu')
            ?.metadata.get('offered_qos_profiles'),
        ).toContain('depth');
      });
      // Second, independent pass: the streaming reader over the whole file.
      const stream = new McapStreamReader({ decompressHandlers });
      stream.append(await readFile(c.path));
      let n = 0;
      for (let r; (r = stream.nextRecord());) if (r.type === 'Message') n++;
      expect(stream.done()).toBe(true);
      expect(n).toBe(c.messages);
    }
    expect(imuSeqs).toEqual([...Array(200).keys()]);
  });

  it('re-writes the latest latched value at the start of every chunk', async () => {
    const { w, commits } = writer();
    await w.write(sample(tfStatic, 1, 1n * MS));
    await w.write(sample(imu, 0, 2n * MS));
    await w.rotate('calibration-change');
    await w.write(sample(tfStatic, 2, 3n * MS));
    await w.rotate('calibration-change');
    await w.write(sample(imu, 1, 4n * MS));
    await w.close();
    expect(commits.map((c) => c.reason)).toEqual(['calibration-change', 'calibration-change', 'close']);
    const third = await readAll(commits[2]!.path);
    expect(third[0]).toMatchObject({ topic: '/tf_static', seq: 2, logTime: 4n * MS });
    expect(commits[2]!.streams.find((s) => s.stream === 'tf_static')).toMatchObject({
      count: 1,
      latchedReplays: 1,
    });
    const second = await readAll(commits[1]!.path);
    expect(second.map((m) => m.seq)).toEqual([1, 2]);
  });

  it('reports each sample as added before the beforeClose of the file it went into, never of the one before', async () => {
    // Commits run behind the writes, so per-file facts (geofence regions) must be cut in
    // beforeClose from what onSampleAdded saw, not in onCommit.
    const events: string[] = [];
    const { w } = writer({
      chunking: chunking({ maxDurationMs: 100 }),
      onSampleAdded: (s) => events.push(`add ${s.stream}@${s.captureNs / MS}`),
      hooks: {
        beforeClose: (info) => {
          events.push(`close ${info.chunkIndex}`);
          return {};
        },
      },
    });
    await w.write(sample(gnss, 0, 0n));
    await w.write(sample(gnss, 1, 50n * MS));
    await w.write(sample(gnss, 2, 150n * MS)); // due: opens chunk 2
    await w.close();
    expect(events).toEqual([
      `add ${gnss.name}@0`,
      `add ${gnss.name}@50`,
      'close 1',
      `add ${gnss.name}@150`,
      'close 2',
    ]);
  });

  it('splits by capture-time duration', async () => {
    const { w, commits } = writer({ chunking: chunking({ maxDurationMs: 100, maxBytes: 1 << 30 }) });
    for (let i = 0; i < 50; i++) await w.write(sample(imu, i, BigInt(i) * 10n * MS));
    await w.close();
    expect(commits.length).toBe(5);
    expect(commits.slice(0, 4).every((c) => c.reason === 'duration')).toBe(true);
    for (const c of commits) expect(c.endNs - c.startNs).toBeLessThan(100n * MS);
  });

  it('lets late samples of a slower stream join the open chunk instead of splitting it', async () => {
    const { w, commits } = writer({ chunking: chunking({ maxDurationMs: 100, maxBytes: 1 << 30 }) });
    // After a stall, per-stream queues resume at different capture times: imu is 150 ms ahead of gnss.
    for (let i = 0; i < 10; i++) {
      await w.write(sample(imu, i, 1000n * MS + BigInt(i) * 5n * MS));
      await w.write(sample(gnss, i, 850n * MS + BigInt(i) * 5n * MS));
    }
    await w.close();
    expect(commits.map((c) => c.reason)).toEqual(['close']);
    expect(commits[0]).toMatchObject({ startNs: 850n * MS, endNs: 1045n * MS, messages: 20 });
  });

  it('closes a chunk opened by a far-future stamp once it has been open maxDurationMs', async () => {
    const { w, commits } = writer({ chunking: chunking({ maxDurationMs: 100, maxBytes: 1 << 30 }) });
    const future = { ...sample(imu, 0, 10n ** 18n), monoNs: 0n };
    await w.write(future);
    await w.write({ ...sample(imu, 1, 1000n * MS), monoNs: 50n * MS });
    await w.write({ ...sample(imu, 2, 1010n * MS), monoNs: 150n * MS });
    await w.close();
    expect(commits.map((c) => c.reason)).toEqual(['duration', 'close']);
    expect(commits[1]!.startNs).toBe(1010n * MS);
  });

  it('adds hook attachments at open and time-sync metadata just before close', async () => {
    const closeInfos: number[] = [];
    const { w, commits } = writer({
      hooks: {
        atOpen: () => ({
          attachments: [
            {
              name: 'calibration/front.yaml',
              mediaType: 'application/yaml',
              data: new TextEncoder().encode('fx: 1'),
            },
          ],
        }),
        beforeClose: (info) => {
          closeInfos.push(info.messages);
          return {
            metadata: [
              { name: 'rigcap.timesync', metadata: { state: 'locked', messages: String(info.messages) } },
            ],
          };
        },
      },
    });
    for (let i = 0; i < 5; i++) await w.write(sample(imu, i, BigInt(i + 1) * MS));
    await w.close();
    expect(closeInfos).toEqual([5]);
    await withIndexedReader(commits[0]!.path, async (reader) => {
      const atts = [];
      for await (const a of reader.readAttachments()) atts.push(new TextDecoder().decode(a.data));
      expect(atts).toEqual(['fx: 1']);
      const meta = [];
      for await (const m of reader.readMetadata({ name: 'rigcap.timesync' }))
        meta.push(Object.fromEntries(m.metadata));
      expect(meta).toEqual([{ state: 'locked', messages: '5' }]);
    });
  });

  it('surfaces ENOSPC as RIGCAP_DISK_FULL, keeps committed files intact and continues with the next index', async () => {
    let failNext = false;
    const openFile = async (path: string): Promise<ChunkFile> => {
      const real = await HashingFile.create(path);
      return Object.assign(Object.create(real) as ChunkFile, {
        path: real.path,
        position: () => real.position(),
        sha256: () => real.sha256(),
        sync: () => real.sync(),
        close: () => real.close(),
        destroy: () => real.destroy(),
        write: (parts: readonly Uint8Array[]) =>
          failNext
            ? Promise.reject(Object.assign(new Error('no space left on device'), { code: 'ENOSPC' }))
            : real.write(parts),
      });
    };
    const { w, commits } = writer({ openFile });
    for (let i = 0; i < 20; i++) await w.write(sample(imu, i, BigInt(i + 1) * MS));
    await w.rotate('test');
    const committed = commits[0]!;
    const before = await sha256File(committed.path);
    failNext = true;
    let caught: unknown;
    try {
      for (let i = 20; i < 200; i++) await w.write(sample(imu, i, BigInt(i + 1) * MS));
      await w.rotate('test');
    } catch (err) {
      caught = err;
    }
    expect(isRigcapError(caught, 'RIGCAP_DISK_FULL')).toBe(true);
    expect(await sha256File(committed.path)).toBe(before);
    failNext = false;
    await w.write(sample(imu, 500, 600n * MS));
    const next = await w.close();
    expect(next?.chunkIndex).toBe(3);
    expect((await readAll(next!.path)).length).toBe(1);
    expect((await readdir(join(spool, 'sessions', 's1'))).sort()).toEqual([
      'chunk-000001.mcap',
      'chunk-000002.mcap.partial',
      'chunk-000003.mcap',
    ]);
  });

  it('continues after chunks already in the session folder', async () => {
    const first = writer();
    await first.w.write(sample(imu, 0, 1n * MS));
    await first.w.close();
    const second = writer();
    await second.w.write(sample(imu, 1, 2n * MS));
    expect((await second.w.close())?.chunkIndex).toBe(2);
  });
});
