import { appendFile, mkdtemp, readFile, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../../agent/log.ts';
import { RecordSealer, appendDurable, writeFileAtomic } from '../../../agent/keys/index.ts';
import { chunkFileName, parseEnvelope } from '../../../agent/records/index.ts';

async function scratch(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'rigcap-record-store-'));
}

describe('writeFileAtomic', () => {
  it("with onExisting 'fail' never replaces a name and leaves no temp file either way", async () => {
    const dir = await scratch();
    const path = join(dir, '000000000001.dsse.json');
    expect(await writeFileAtomic(path, 'first\n', { onExisting: 'fail' })).toBe('written');
    expect(await writeFileAtomic(path, 'second\n', { onExisting: 'fail' })).toBe('exists');
    expect(await readFile(path, 'utf8')).toBe('first\n');
    expect(await readdir(dir)).toEqual(['000000000001.dsse.json']);
  });

  it("with onExisting 'replace' swaps in the complete new bytes and leaves no temp file", async () => {
    const dir = await scratch();
    const path = join(dir, 'chunk-000001.mcap.dsse.json');
    await writeFileAtomic(path, new Uint8Array([1, 2, 3]), { onExisting: 'replace' });
    const big = Buffer.alloc(3 * 1024 * 1024, 'rigcap');
    await writeFileAtomic(path, big, { onExisting: 'replace' });
    // Compared as one buffer: an element-wise diff of 3 MiB would be slow to report.
    expect((await readFile(path)).equals(big)).toBe(true);
    expect(await readdir(dir)).toEqual(['chunk-000001.mcap.dsse.json']);
  });

  it('fails without leaving a temp file when the folder does not exist', async () => {
    const dir = await scratch();
    await expect(
      writeFileAtomic(join(dir, 'missing', 'x.json'), 'x', { onExisting: 'fail' }),
    ).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await readdir(dir)).toEqual([]);
  });

  it('appendDurable appends every byte after what is there', async () => {
    const dir = await scratch();
    const path = join(dir, 'session.dsse.json');
    await appendDurable(path, new TextEncoder().encode('a\n'));
    await appendDurable(path, new TextEncoder().encode('b\n'));
    expect(await readFile(path, 'utf8')).toBe('a\nb\n');
  });
});

describe('RecordStore through the sealer', () => {
  it('cuts a torn session line left by a crash before appending, and the chain, sidecar and copies agree', async () => {
    const base = await scratch();
    const options = {
      rootDir: join(base, 'agent'),
      keysDir: join(base, 'secrets'),
      signerId: 'rig-s',
      log: silentLogger(),
      keyPolicy: 'create-if-missing' as const,
      bootId: 'b1',
    };
    const sealer = await RecordSealer.open(options);
    const open = await sealer.openSession({ sessionId: 's1', rigId: 'rig', startNs: 1n });
    await sealer.close();
    const sessionFile = sealer.store.sessionFilePath('s1');
    // A crash in the middle of the next line's append.
    await appendFile(sessionFile, '{"payloadType":"application/vnd.in-toto+json","payl');

    const again = await RecordSealer.open({ ...options, bootId: 'b2' });
    const chunkPath = join(options.rootDir, 'sessions', 's1', chunkFileName(1));
    await writeFile(chunkPath, 'chunk bytes');
    const chunk = await again.sealChunk({
      chunkPath,
      sha256: 'a'.repeat(64),
      bytes: 11,
      predicateFields: {
        sessionId: 's1',
        chunkIndex: 1,
        startNs: '1',
        endNs: '2',
        streams: [],
        timesync: {
          source: 'none',
          startNs: '1',
          endNs: '2',
          intervals: [],
          offsetNs: null,
          dispersionNs: null,
          samples: 0,
          steps: [],
          stateAtEnd: 'unsynced',
        },
        calibration: [],
        transforms: [],
        producer: { rigcapVersion: '0.0.0', configDigest: 'b'.repeat(64) },
        policy: { residency: 'EU', retentionDays: 1, purpose: 'test' },
      },
    });
    const close = await again.closeSession({ sessionId: 's1', endNs: 3n, reason: 'stop' });
    await again.close();

    const lines = (await readFile(sessionFile, 'utf8')).split('\n');
    expect(lines.at(-1)).toBe('');
    expect(lines.slice(0, -1)).toEqual(
      [open.bytes, close.bytes].map((b) => new TextDecoder().decode(b).trimEnd()),
    );
    expect(new Uint8Array(await readFile(`${chunkPath}.dsse.json`))).toEqual(chunk.bytes);
    expect(new Uint8Array(await readFile(again.store.recordPath(chunk.seq)))).toEqual(chunk.bytes);
    expect(parseEnvelope(chunk.bytes)?.canonical).toBe(true);
    // Only committed names remain: no temp file in the chain or session folder.
    expect((await readdir(again.store.chainDir)).every((n) => /^[0-9]{12}\.dsse\.json$/.test(n))).toBe(true);
    expect((await readdir(join(options.rootDir, 'sessions', 's1'))).sort()).toEqual([
      chunkFileName(1),
      `${chunkFileName(1)}.dsse.json`,
      'session.dsse.json',
    ]);
  });
});
