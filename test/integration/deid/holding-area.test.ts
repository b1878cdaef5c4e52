// The sealed holding area on a real filesystem: frames go in encrypted, come back whole, never
// overrun their byte budget, and a torn or altered file is counted lost instead of passed on.
import { mkdtemp, readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Sample } from '../../../drivers/types.ts';
import { HoldingArea, type HeldLossCause } from '../../../agent/deid/holding/holding-area.ts';
import { MemoryKeyWrapper, type KeyWrapper } from '../../../agent/deid/holding/key-wrapper.ts';
import { discardHeldFrames, heldGapRecord } from '../../../agent/deid/holding/recover.ts';
import { openFrame, readHeader, sealFrame } from '../../../agent/deid/holding/sealed-frame.ts';
import { silentLogger } from '../../../agent/log.ts';

let dir: string | undefined;
afterEach(async () => {
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

/** A recognisable "JPEG" payload: its bytes must never be found in the clear on disk. */
function frame(seq: number, bytes = 1000): Sample {
  const data = Buffer.alloc(bytes);
  data.write(`\xff\xd8PLAINTEXT-FRAME-${String(seq).padStart(6, '0')}`, 'latin1');
  for (let i = 32; i < bytes; i++) data[i] = (i * 7 + seq) & 0xff;
  return {
    stream: 'front',
    topic: '/front/image',
    seq,
    captureNs: 1_700_000_000_000_000_000n + BigInt(seq) * 33_000_000n,
    monoNs: BigInt(seq),
    encoding: 'jpeg',
    schemaRef: 'sensor_msgs/msg/CompressedImage',
    data: new Uint8Array(data),
  };
}

async function area(
  options: { budgetBytes?: number; dropPolicy?: 'oldest' | 'newest' } = {},
): Promise<{ area: HoldingArea; lost: Array<{ seq: bigint; cause: HeldLossCause }>; spool: string }> {
  dir = await mkdtemp(join(tmpdir(), 'rigcap-holding-'));
  const lost: Array<{ seq: bigint; cause: HeldLossCause }> = [];
  const a = await HoldingArea.open({
    spoolDir: dir,
    sessionId: 's1',
    budgetBytes: options.budgetBytes ?? 1 << 30,
    dropPolicy: options.dropPolicy ?? 'oldest',
    log: silentLogger(),
    onLost: (entry, cause) => lost.push({ seq: entry.captureNs, cause }),
  });
  return { area: a, lost, spool: dir };
}

async function spoolBytes(spool: string): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (const e of await readdir(spool, { recursive: true, withFileTypes: true }))
    if (e.isFile()) parts.push(await readFile(join(e.parentPath, e.name)));
  return Buffer.concat(parts);
}

describe('sealed frames', () => {
  it('open to the same sample, and fail on a wrong key, a wrong name, a flipped bit or a cut tail', () => {
    const key = Buffer.alloc(32, 7);
    const sample = frame(3);
    const sealed = sealFrame(sample, key, '000000000003.held');
    expect(openFrame(sealed, key, '000000000003.held')).toEqual(sample);
    expect(readHeader(sealed)).toEqual({ stream: 'front', captureNs: sample.captureNs });
    expect(sealed.includes(Buffer.from('PLAINTEXT-FRAME'))).toBe(false);
    expect(() => openFrame(sealed, Buffer.alloc(32, 8), '000000000003.held')).toThrow();
    expect(() => openFrame(sealed, key, '000000000004.held')).toThrow();
    const flipped = Buffer.from(sealed);
    flipped[flipped.length - 40]! ^= 1;
    expect(() => openFrame(flipped, key, '000000000003.held')).toThrow();
    expect(() => openFrame(sealed.subarray(0, sealed.length - 5), key, '000000000003.held')).toThrow();
  });
});

describe('HoldingArea', () => {
  it('holds frames encrypted and gives them back whole, oldest first, then leaves no file', async () => {
    const { area: a, spool } = await area();
    for (let i = 1; i <= 5; i++) expect((await a.put(frame(i))).kind).toBe('held');
    expect(a.frames).toBe(5);
    const bytes = await spoolBytes(spool);
    expect(bytes.includes(Buffer.from('PLAINTEXT-FRAME'))).toBe(false);
    const names = await readdir(join(spool, 'holding', 's1'));
    expect(names.every((n) => n.endsWith('.held'))).toBe(true);
    for (let i = 1; i <= 5; i++) {
      const entry = a.take()!;
      expect(await a.read(entry)).toEqual(frame(i));
      await a.release(entry);
    }
    expect(a.frames).toBe(0);
    expect(a.bytes).toBe(0);
    await a.close();
    expect(await readdir(join(spool, 'holding'))).toEqual([]);
  });

  it('queues frames put at once in the order they were put, whichever write ends first; a frame given back keeps its place', async () => {
    const { area: a } = await area();
    // The first frame's write is the longest, so the others' writes tend to finish before it.
    const puts = [frame(1, 8 << 20), ...[2, 3, 4, 5].map((seq) => frame(seq))].map((f) => a.put(f));
    expect((await Promise.all(puts)).every((r) => r.kind === 'held')).toBe(true);
    const first = a.take()!;
    const second = a.take()!;
    a.giveBack(first);
    const order: number[] = [];
    for (let e = a.take(); e !== undefined; e = a.take()) order.push((await a.read(e))!.seq);
    expect(order).toEqual([1, 3, 4, 5]);
    expect((await a.read(second))!.seq).toBe(2);
  });

  it('never holds more than its budget: `oldest` evicts the oldest, `newest` refuses the new frame', async () => {
    const one = sealFrame(frame(1), Buffer.alloc(32), '000000000001.held').length;
    const budget = one * 3 + 10;
    for (const policy of ['oldest', 'newest'] as const) {
      const { area: a, lost, spool } = await area({ budgetBytes: budget, dropPolicy: policy });
      const results = [];
      for (let i = 1; i <= 6; i++) {
        results.push((await a.put(frame(i))).kind);
        const onDisk = (await readdir(join(spool, 'holding', 's1'))).length * one;
        expect(onDisk).toBeLessThanOrEqual(budget);
        expect(a.bytes).toBeLessThanOrEqual(budget);
      }
      const kept: number[] = [];
      for (let e = a.take(); e !== undefined; e = a.take()) kept.push((await a.read(e))!.seq);
      if (policy === 'oldest') {
        expect(results).toEqual(['held', 'held', 'held', 'held', 'held', 'held']);
        expect(kept).toEqual([4, 5, 6]);
        expect(lost.map((l) => l.cause)).toEqual([
          'deid_holding_full',
          'deid_holding_full',
          'deid_holding_full',
        ]);
      } else {
        expect(results).toEqual(['held', 'held', 'held', 'full', 'full', 'full']);
        expect(kept).toEqual([1, 2, 3]);
        expect(lost).toEqual([]);
      }
      await rm(spool, { recursive: true, force: true });
    }
  });

  it('counts a torn file lost (GCM authentication fails) and never returns its bytes', async () => {
    const { area: a, lost, spool } = await area();
    await a.put(frame(1));
    await a.put(frame(2));
    const folder = join(spool, 'holding', 's1');
    const [first, second] = (await readdir(folder)).sort();
    await truncate(join(folder, first!), 200);
    const altered = await readFile(join(folder, second!));
    altered[altered.length - 20]! ^= 0xff;
    await writeFile(join(folder, second!), altered);
    expect(await a.read(a.take()!)).toBeUndefined();
    expect(await a.read(a.take()!)).toBeUndefined();
    expect(lost.map((l) => l.cause)).toEqual(['deid_held_lost', 'deid_held_lost']);
    expect(a.frames).toBe(0);
    expect(await readdir(folder)).toEqual([]);
  });

  it('at restart, held frames of an ended process are deleted unread and counted with their window', async () => {
    const { area: a, spool } = await area();
    for (let i = 1; i <= 4; i++) await a.put(frame(i));
    // The process "ends": nothing is released; a new process finds only ciphertext it cannot open.
    const gaps = await discardHeldFrames(spool, silentLogger());
    expect(gaps.get('s1')).toEqual([
      { stream: 'front', count: 4, startNs: frame(1).captureNs, endNs: frame(4).captureNs },
    ]);
    expect(await readdir(join(spool, 'holding'))).toEqual([]);
    const record = heldGapRecord(gaps.get('s1')![0]!, 0n);
    expect(record).toEqual({
      startNs: String(frame(1).captureNs),
      endNs: String(frame(4).captureNs),
      cause: 'deid_held_lost: 4 frames of front held for de-id and never blurred',
    });
  });

  it('keeps its data key in memory only: the key is fresh per session and never written to the spool', async () => {
    const memory = new MemoryKeyWrapper();
    const keys: Buffer[] = [];
    const watching: KeyWrapper = {
      kind: memory.kind,
      newDataKey: async () => {
        const k = await memory.newDataKey();
        keys.push(k.key);
        return k;
      },
      unwrap: (w) => memory.unwrap(w),
    };
    dir = await mkdtemp(join(tmpdir(), 'rigcap-holding-'));
    for (const sessionId of ['s1', 's2']) {
      const a = await HoldingArea.open({
        spoolDir: dir,
        sessionId,
        budgetBytes: 1 << 20,
        dropPolicy: 'oldest',
        log: silentLogger(),
        keyWrapper: watching,
        onLost: () => undefined,
      });
      expect(a.keyWrapperKind).toBe('memory');
      await a.put(frame(1));
    }
    expect(keys).toHaveLength(2);
    expect(keys[0]!.length).toBe(32);
    expect(keys[0]!.equals(keys[1]!)).toBe(false);
    const bytes = await spoolBytes(dir);
    for (const k of keys) expect(bytes.includes(k)).toBe(false);
    expect((await memory.newDataKey()).wrapped).toBeUndefined();
    await expect(memory.unwrap(new Uint8Array(8))).rejects.toThrow(/never wrapped/);
  });
});
