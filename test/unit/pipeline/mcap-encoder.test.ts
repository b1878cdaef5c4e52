import { describe, expect, it } from 'vitest';
import { McapIndexedReader, McapStreamReader } from '@mcap/core';
import { randomBytes } from 'node:crypto';
import { McapEncoder, MemorySink } from '../../../agent/pipeline/mcap-encoder.ts';
import {
  AdaptiveZstdCompressor,
  decompressHandlers,
  storeUncompressed,
} from '../../../agent/pipeline/chunk-compression.ts';
import { bufferReadable } from '../../../agent/pipeline/mcap-read.ts';

async function encode(
  compressor: ConstructorParameters<typeof McapEncoder>[0]['compressor'],
): Promise<{ bytes: Uint8Array; payloads: Uint8Array[] }> {
  const sink = new MemorySink();
  const enc = new McapEncoder({ sink, compressor, chunkBytes: 8 * 1024, profile: 'ros2', library: 'test' });
  await enc.start();
  const schemaId = enc.registerSchema({
    name: 'std_msgs/msg/String',
    encoding: 'ros2msg',
    data: new TextEncoder().encode('string data'),
  });
  const a = enc.registerChannel({
    schemaId,
    topic: '/a',
    messageEncoding: 'cdr',
    metadata: new Map([['stream', 'a']]),
  });
  const b = enc.registerChannel({ schemaId, topic: '/b', messageEncoding: 'cdr', metadata: new Map() });
  const payloads: Uint8Array[] = [];
  for (let i = 0; i < 60; i++) {
    // Half random (stored), half repetitive (compressed) so both chunk kinds appear.
    const data = i < 30 ? randomBytes(700) : new Uint8Array(700).fill(i);
    payloads.push(data);
    await enc.addMessage({
      channelId: i % 2 === 0 ? a : b,
      sequence: i,
      logTime: BigInt(1000 + i),
      publishTime: BigInt(1000 + i),
      data,
    });
  }
  await enc.addMetadata({ name: 'rigcap.marker', metadata: new Map([['k', 'v']]) });
  await enc.addAttachment({
    name: 'calibration/cam.yaml',
    mediaType: 'application/yaml',
    data: new TextEncoder().encode('k: 1'),
    logTime: 1n,
    createTime: 1n,
  });
  await enc.end();
  return { bytes: sink.bytes(), payloads };
}

describe('McapEncoder', () => {
  for (const [label, compressor] of [
    ['stored', storeUncompressed],
    ['adaptive zstd', new AdaptiveZstdCompressor({ level: 3 })],
  ] as const) {
    it(`${label}: an indexed reader and a stream reader both read back every message`, async () => {
      const { bytes, payloads } = await encode(compressor);
      const reader = await McapIndexedReader.Initialize({
        readable: bufferReadable(bytes),
        decompressHandlers,
      });
      expect(reader.header.profile).toBe('ros2');
      expect(reader.chunkIndexes.length).toBeGreaterThan(2);
      expect(reader.statistics?.messageCount).toBe(60n);
      const seen: Uint8Array[] = [];
      for await (const m of reader.readMessages()) seen.push(m.data);
      expect(seen.map((d) => Buffer.from(d).toString('hex'))).toEqual(
        payloads.map((d) => Buffer.from(d).toString('hex')),
      );
      const onlyB: number[] = [];
      for await (const m of reader.readMessages({ topics: ['/b'] })) onlyB.push(m.sequence);
      expect(onlyB).toEqual(payloads.map((_, i) => i).filter((i) => i % 2 === 1));
      const meta = [];
      for await (const m of reader.readMetadata({ name: 'rigcap.marker' })) meta.push(m);
      expect(meta[0]?.metadata.get('k')).toBe('v');
      const att = [];
      for await (const x of reader.readAttachments()) att.push(x.name);
      expect(att).toEqual(['calibration/cam.yaml']);

      const stream = new McapStreamReader({ decompressHandlers });
      stream.append(bytes);
      let messages = 0;
      for (let r; (r = stream.nextRecord());) if (r.type === 'Message') messages++;
      expect(stream.done()).toBe(true);
      expect(messages).toBe(60);
    });
  }

  it('adaptive zstd stores random chunks and compresses repetitive ones', async () => {
    const c = new AdaptiveZstdCompressor({ level: 3 });
    const random = await c.compress([randomBytes(300_000)], 300_000);
    expect(random.compression).toBe('');
    const zeros = await c.compress([new Uint8Array(300_000)], 300_000);
    expect(zeros.compression).toBe('zstd');
    expect(c.counts()).toEqual({ stored: 1, compressed: 1 });
  });

  it('a sink failure surfaces on the next call and on end()', async () => {
    let writes = 0;
    const sink = new MemorySink();
    const failing = {
      position: () => sink.position(),
      write: (parts: readonly Uint8Array[]) =>
        ++writes > 3
          ? Promise.reject(Object.assign(new Error('no space'), { code: 'ENOSPC' }))
          : sink.write(parts),
    };
    const enc = new McapEncoder({
      sink: failing,
      compressor: storeUncompressed,
      chunkBytes: 1024,
      profile: 'ros2',
      library: 't',
    });
    await enc.start();
    const s = enc.registerSchema({ name: 'x', encoding: 'jsonschema', data: new Uint8Array() });
    const ch = enc.registerChannel({
      schemaId: s,
      topic: '/x',
      messageEncoding: 'json',
      metadata: new Map(),
    });
    await expect(
      (async () => {
        for (let i = 0; i < 50; i++)
          await enc.addMessage({
            channelId: ch,
            sequence: i,
            logTime: 1n,
            publishTime: 1n,
            data: new Uint8Array(600),
          });
        await enc.end();
      })(),
    ).rejects.toThrow('no space');
  });
});
