// Child for the crash test: writes chunks in a loop through the real ChunkWriter and catalog
// until it is killed. argv: spoolDir sessionId
import { join } from 'node:path';
import { Catalog } from '../../../agent/catalog/catalog.ts';
import { ChunkWriter } from '../../../agent/pipeline/chunk-writer.ts';
import { silentLogger } from '../../../agent/log.ts';
import type { CaptureStream } from '../../../agent/pipeline/chunk-types.ts';

const [spoolDir, sessionId] = process.argv.slice(2) as [string, string];
const logger = silentLogger();
const catalog = Catalog.open({ path: join(spoolDir, 'catalog.db'), logger });
catalog.openSession({ id: sessionId, rigId: 'crash-rig', startedNs: BigInt(Date.now()) * 1_000_000n });
const stream: CaptureStream = {
  name: 'cam',
  topic: '/cam',
  latched: false,
  schema: {
    name: 'sensor_msgs/msg/CompressedImage',
    encoding: 'ros2msg',
    data: new TextEncoder().encode('uint8[] data'),
    messageEncoding: 'cdr',
  },
};
const tf: CaptureStream = { ...stream, name: 'tf_static', topic: '/tf_static', latched: true };
const writer = new ChunkWriter({
  spoolDir,
  sessionId,
  logger,
  chunking: { maxBytes: 96 * 1024, maxDurationMs: 60_000, zstdLevel: 1, mcapChunkBytes: 16 * 1024 },
  onCommit: (chunk) => {
    catalog.addChunk(chunk, { relativePath: `sessions/${sessionId}/${chunk.name}`, origin: 'writer' });
  },
});
writer.addStream(stream);
writer.addStream(tf);
let seq = 0;
const payload = new Uint8Array(3000);
process.stdout.write('ready\n');
for (;;) {
  for (let i = 0; i < payload.length; i += 7) payload[i] = (seq + i) & 0xff;
  const ns = BigInt(Date.now()) * 1_000_000n + BigInt(seq);
  if (seq % 50 === 0)
    await writer.write({
      stream: 'tf_static',
      topic: '/tf_static',
      seq,
      captureNs: ns,
      monoNs: ns,
      encoding: 'cdr',
      schemaRef: 'x',
      data: payload.slice(0, 100),
    });
  await writer.write({
    stream: 'cam',
    topic: '/cam',
    seq,
    captureNs: ns,
    monoNs: ns,
    encoding: 'cdr',
    schemaRef: 'x',
    data: payload.slice(),
  });
  seq++;
}
