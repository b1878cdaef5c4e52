// The fleet store's object ports on a real S3 server (Ceph RGW): content-addressed blobs written
// as streamed multipart uploads and checked on the way, layout names placed by server-side copy,
// and tus uploads kept in the bucket so that an upload started through one receiver instance
// resumes through another with the same bytes.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../agent/log.ts';
import { openS3Backends, type S3Backends } from '../../../receiver/backends/s3/open.ts';
import { S3BlobStore } from '../../../receiver/backends/s3/blob-store.ts';
import { parseS3Url, s3ClientConfig } from '../../../receiver/backends/s3/location.ts';
import { startReceiver, type ReceiverHandle } from '../../../receiver/server.ts';
import { rgwSkipReason, startRgw, useRgwCredentials, type RgwEngine } from '../../support/engines/rgw.ts';

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

async function* slices(buf: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size);
}

async function readAll(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

describe('s3:// locations and client settings', () => {
  it('parses a bucket with and without a prefix, and refuses traversal in the prefix', () => {
    expect(parseS3Url('s3://fleet-store')).toEqual({ bucket: 'fleet-store', prefix: '' });
    expect(parseS3Url('s3://fleet-store/site-a/v1/')).toEqual({
      bucket: 'fleet-store',
      prefix: 'site-a/v1/',
    });
    expect(() => parseS3Url('s3://fleet-store/a/../b')).toThrow(/bad prefix segment/);
    expect(() => parseS3Url('http://fleet-store/a')).toThrow(/s3:\/\/BUCKET/);
    expect(() => parseS3Url('s3://UPPER')).toThrow(/s3:\/\/BUCKET/);
  });

  it('uses path-style with an endpoint, virtual-host on AWS, and checksums only when required', () => {
    expect(s3ClientConfig({ endpoint: 'http://127.0.0.1:9000' })).toMatchObject({
      forcePathStyle: true,
      endpoint: 'http://127.0.0.1:9000',
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
    expect(s3ClientConfig({}).forcePathStyle).toBe(false);
    expect(s3ClientConfig({ endpoint: 'https://s3.example.net', addressing: 'virtual' }).forcePathStyle).toBe(
      false,
    );
  });
});

describe.skipIf(rgwSkipReason !== undefined)('object ports on Ceph RGW', () => {
  let rgw: RgwEngine;
  let backends: S3Backends;
  let blobs: S3BlobStore;
  let root: string;

  beforeAll(async () => {
    rgw = await startRgw();
    useRgwCredentials(rgw);
    root = mkdtempSync(join(tmpdir(), 'rigcap-s3-'));
    backends = await openS3Backends({
      url: `s3://${rgw.bucket}/site-a`,
      endpoint: rgw.endpoint,
      log: silentLogger(),
    });
    blobs = backends.blobs as S3BlobStore;
  }, 180_000);
  afterAll(async () => {
    await backends?.close();
    await rgw?.stop();
    if (root !== undefined) rmSync(root, { recursive: true, force: true });
  }, 60_000);

  it('refuses to open a bucket that does not exist, with a code', async () => {
    await expect(
      openS3Backends({ url: 's3://no-such-bucket-here', endpoint: rgw.endpoint, log: silentLogger() }),
    ).rejects.toMatchObject({ code: 'RIGCAP_STORE_BACKEND_UNAVAILABLE' });
  });

  it('stores a 12 MiB blob as a streamed multipart upload and reads back the same bytes', async () => {
    const body = randomBytes(12 * 1024 * 1024 + 123);
    const hex = sha256(body);
    expect(await blobs.has(hex)).toBe(false);
    expect(await blobs.writeBlob(hex, slices(body, 1024 * 1024))).toEqual({
      bytes: body.length,
      created: true,
    });
    expect(await blobs.size(hex)).toBe(body.length);
    expect(sha256(await readAll((await blobs.open(hex))!.stream))).toBe(hex);
    // Content-addressed: writing it again stores nothing new.
    expect(await blobs.writeBlob(hex, slices(body, 1024 * 1024))).toEqual({
      bytes: body.length,
      created: false,
    });
  });

  it('opens a stored blob as a stream by its digest; absent is undefined, a refusing bucket a code', async () => {
    const body = randomBytes(6 * 1024 * 1024 + 5);
    const hex = sha256(body);
    await blobs.writeBlob(hex, slices(body, 1024 * 1024));
    const opened = await blobs.open(hex);
    expect(opened?.bytes).toBe(body.length);
    expect(sha256(await readAll(opened!.stream))).toBe(hex);
    expect(await blobs.open(sha256(randomBytes(8)))).toBeUndefined();
    expect(await blobs.open('not-a-digest')).toBeUndefined();
    const client = new S3Client({
      ...s3ClientConfig({ endpoint: rgw.endpoint }),
      credentials: { accessKeyId: 'nobody', secretAccessKey: 'wrong-secret' },
    });
    try {
      const refused = new S3BlobStore({ client, location: parseS3Url(`s3://${rgw.bucket}/site-a`) });
      await expect(refused.open(hex)).rejects.toMatchObject({ code: 'RIGCAP_STORE_BACKEND_UNAVAILABLE' });
    } finally {
      client.destroy();
    }
  });

  it('never stores a blob whose bytes do not hash to its name (small or multipart)', async () => {
    for (const size of [1000, 11 * 1024 * 1024]) {
      const body = randomBytes(size);
      const claimed = sha256(randomBytes(8));
      await expect(blobs.writeBlob(claimed, slices(body, 1024 * 1024))).rejects.toMatchObject({
        code: 'RIGCAP_RECEIVER_DIGEST_MISMATCH',
      });
      expect(await blobs.has(claimed)).toBe(false);
    }
  });

  it('places a blob at its layout name by copy, and refuses names that leave the prefix', async () => {
    const body = randomBytes(4096);
    const hex = sha256(body);
    await blobs.writeBlob(hex, slices(body, 1024));
    await blobs.place(hex, 'sessions/s1/chunk-000001.mcap');
    await blobs.place(hex, 'sessions/s1/chunk-000001.mcap'); // idempotent
    for (const bad of ['../escape', '/abs', 'sessions/../x', 'a//b']) {
      await expect(blobs.place(hex, bad)).rejects.toMatchObject({ code: 'RIGCAP_RECEIVER_BAD_NAME' });
    }
  });

  it('keeps prefixes apart: a blob under one prefix is not seen under another', async () => {
    const other = await openS3Backends({
      url: `s3://${rgw.bucket}/site-b`,
      endpoint: rgw.endpoint,
      log: silentLogger(),
    });
    try {
      const body = randomBytes(2048);
      const hex = sha256(body);
      await blobs.writeBlob(hex, slices(body, 512));
      expect(await other.blobs.has(hex)).toBe(false);
    } finally {
      await other.close();
    }
  });

  it('resumes an upload started through one receiver instance through another; the stored bytes are identical', async () => {
    const shared = await openS3Backends({
      url: `s3://${rgw.bucket}/fleet`,
      endpoint: rgw.endpoint,
      log: silentLogger(),
    });
    const second = await openS3Backends({
      url: `s3://${rgw.bucket}/fleet`,
      endpoint: rgw.endpoint,
      log: silentLogger(),
    });
    const start = (dir: string, b: S3Backends): Promise<ReceiverHandle> =>
      startReceiver({
        dataDir: join(root, dir),
        host: '127.0.0.1',
        port: 0,
        enrollTokens: ['enrol-secret-0123456789abcdef0123456789'],
        log: silentLogger(),
        backends: { blobs: b.blobs, datastore: b.datastore },
      });
    const one = await start('one', shared);
    const two = await start('two', second);
    try {
      const body = randomBytes(13 * 1024 * 1024 + 7);
      const hex = sha256(body);
      const created = await fetch(`${one.url}/v1/uploads`, {
        method: 'POST',
        headers: {
          'tus-resumable': '1.0.0',
          'upload-length': String(body.length),
          'upload-metadata': `sha256 ${Buffer.from(hex).toString('base64')}`,
        },
      });
      expect(created.status).toBe(201);
      const location = created.headers.get('location') ?? '';
      const path = location.startsWith('http') ? new URL(location).pathname : location;
      // 6 MiB is less than a part: it waits in the bucket as the upload's incomplete part.
      const half = 6 * 1024 * 1024;
      const first = await fetch(`${one.url}${path}`, {
        method: 'PATCH',
        headers: {
          'tus-resumable': '1.0.0',
          'upload-offset': '0',
          'content-type': 'application/offset+octet-stream',
        },
        body: body.subarray(0, half),
      });
      expect(first.status).toBe(204);
      const head = await fetch(`${two.url}${path}`, {
        method: 'HEAD',
        headers: { 'tus-resumable': '1.0.0' },
      });
      expect(head.status).toBe(200);
      expect(head.headers.get('upload-offset')).toBe(String(half));
      const rest = await fetch(`${two.url}${path}`, {
        method: 'PATCH',
        headers: {
          'tus-resumable': '1.0.0',
          'upload-offset': String(half),
          'content-type': 'application/offset+octet-stream',
        },
        body: body.subarray(half),
      });
      expect(rest.status).toBe(204);
      expect((await fetch(`${one.url}/v1/blobs/sha256/${hex}`, { method: 'HEAD' })).status).toBe(200);
      expect(sha256(await readAll((await (shared.blobs as S3BlobStore).open(hex))!.stream))).toBe(hex);
    } finally {
      await one.close();
      await two.close();
      await shared.close();
      await second.close();
    }
  }, 120_000);
});
