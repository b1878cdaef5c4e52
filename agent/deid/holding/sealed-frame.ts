// The bytes of one held frame: a short clear header (what recovery may count without the key:
// the frame's stream and capture time) and the whole sample sealed with AES-256-GCM. The header and
// the file's own name are authenticated, so a torn, swapped or altered file fails to open.
// Bytes in, bytes out: the holding area does the I/O.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { Sample, SampleEncoding } from '../../../drivers/types.ts';

const magic = Buffer.from('RCHELD1\n', 'latin1');
const nonceBytes = 12;
const tagBytes = 16;

/** What a held file says in the clear. */
export interface HeldHeader {
  readonly stream: string;
  readonly captureNs: bigint;
}

/** Seals `sample` under `key`; `name` binds the bytes to the file they are written to. */
export function sealFrame(sample: Sample, key: Buffer, name: string): Buffer {
  const header = clearHeader(sample.stream, sample.captureNs);
  const meta = Buffer.from(
    JSON.stringify({
      stream: sample.stream,
      topic: sample.topic,
      seq: sample.seq,
      captureNs: sample.captureNs.toString(),
      monoNs: sample.monoNs.toString(),
      encoding: sample.encoding,
      schemaRef: sample.schemaRef,
    }),
    'utf8',
  );
  const metaLength = Buffer.alloc(4);
  metaLength.writeUInt32BE(meta.length);
  const nonce = randomBytes(nonceBytes);
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  cipher.setAAD(Buffer.concat([header, Buffer.from(name, 'utf8')]));
  // One copy into the file's bytes: a 1080p frame is copied once after the cipher, not twice.
  const parts = [header, nonce, cipher.update(metaLength), cipher.update(meta), cipher.update(sample.data)];
  parts.push(cipher.final(), cipher.getAuthTag());
  return Buffer.concat(parts);
}

/** Opens a sealed frame; throws when the bytes are torn or altered, or the key or name is not theirs. */
export function openFrame(bytes: Uint8Array, key: Buffer, name: string): Sample {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const header = readHeader(buf);
  const headerLength = buf.readUInt16BE(magic.length) + magic.length + 2;
  if (buf.length < headerLength + nonceBytes + tagBytes) throw new Error('held frame is truncated');
  const nonce = buf.subarray(headerLength, headerLength + nonceBytes);
  const tag = buf.subarray(buf.length - tagBytes);
  const decipher = createDecipheriv('aes-256-gcm', key, nonce);
  decipher.setAAD(Buffer.concat([buf.subarray(0, headerLength), Buffer.from(name, 'utf8')]));
  decipher.setAuthTag(tag);
  const plain = Buffer.concat([
    decipher.update(buf.subarray(headerLength + nonceBytes, buf.length - tagBytes)),
    decipher.final(),
  ]);
  const metaLength = plain.readUInt32BE(0);
  const meta = JSON.parse(plain.subarray(4, 4 + metaLength).toString('utf8')) as {
    stream: string;
    topic: string;
    seq: number;
    captureNs: string;
    monoNs: string;
    encoding: SampleEncoding;
    schemaRef: string;
  };
  if (meta.stream !== header.stream || BigInt(meta.captureNs) !== header.captureNs)
    throw new Error('held frame header does not match its sealed contents');
  return {
    stream: meta.stream,
    topic: meta.topic,
    seq: meta.seq,
    captureNs: BigInt(meta.captureNs),
    monoNs: BigInt(meta.monoNs),
    encoding: meta.encoding,
    schemaRef: meta.schemaRef,
    data: new Uint8Array(plain.subarray(4 + metaLength)),
  };
}

/** The clear header of a held file (recovery counts frames and their time window from it). */
export function readHeader(bytes: Uint8Array): HeldHeader {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < magic.length + 2 || !buf.subarray(0, magic.length).equals(magic))
    throw new Error('not a held frame');
  const length = buf.readUInt16BE(magic.length);
  const start = magic.length + 2;
  if (buf.length < start + length || length < 8) throw new Error('held frame header is truncated');
  const captureNs = buf.readBigUInt64BE(start);
  const stream = buf.subarray(start + 8, start + length).toString('utf8');
  return { stream, captureNs };
}

function clearHeader(stream: string, captureNs: bigint): Buffer {
  const name = Buffer.from(stream, 'utf8');
  const out = Buffer.alloc(magic.length + 2 + 8 + name.length);
  magic.copy(out, 0);
  out.writeUInt16BE(8 + name.length, magic.length);
  out.writeBigUInt64BE(captureNs, magic.length + 2);
  name.copy(out, magic.length + 10);
  return out;
}
