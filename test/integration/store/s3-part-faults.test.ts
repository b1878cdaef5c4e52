// A tus upload's bytes below one S3 part wait in the bucket as its `.part` object. A fault while a
// later PATCH writes them back (the bucket refusing the new `.part`, the joined part, or the delete
// of the old `.part`) must leave the offset the server had confirmed, never less and never more,
// and the upload must still end with exactly the bytes sent. Faults are injected in the S3 client's
// request handler on a real Ceph RGW.
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { GetObjectCommand, HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { Upload } from '@tus/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { s3ClientConfig } from '../../../receiver/backends/s3/location.ts';
import { S3UploadStore } from '../../../receiver/backends/s3/upload-store.ts';
import { rgwSkipReason, startRgw, useRgwCredentials, type RgwEngine } from '../../support/engines/rgw.ts';

interface SentRequest {
  method: string;
  path: string;
  query: Record<string, unknown>;
}

/** A request handler that refuses every request `fault` matches (retries included) while it is set. */
class FaultyHandler extends NodeHttpHandler {
  fault: ((r: SentRequest) => boolean) | undefined;
  override handle(...args: Parameters<NodeHttpHandler['handle']>): ReturnType<NodeHttpHandler['handle']> {
    const [req] = args;
    if (this.fault?.({ method: req.method, path: req.path, query: req.query ?? {} }) === true)
      return Promise.reject(Object.assign(new Error('injected fault'), { name: 'InjectedFault' }));
    return super.handle(...args);
  }
}

const isPart = (r: SentRequest): boolean => r.path.endsWith('.part');
const putPart = (r: SentRequest): boolean => r.method === 'PUT' && isPart(r);
const deletePart = (r: SentRequest): boolean => r.method === 'DELETE' && isPart(r);
const uploadPart = (r: SentRequest): boolean => r.method === 'PUT' && 'partNumber' in r.query;
const completeUpload = (r: SentRequest): boolean => r.method === 'POST' && 'uploadId' in r.query;

describe.skipIf(rgwSkipReason !== undefined)('tus .part objects on Ceph RGW under faults', () => {
  let rgw: RgwEngine;
  let handler: FaultyHandler;
  let store: S3UploadStore;
  let s3: S3Client;

  beforeAll(async () => {
    rgw = await startRgw();
    useRgwCredentials(rgw);
    handler = new FaultyHandler();
    const config = s3ClientConfig({ endpoint: rgw.endpoint });
    store = new S3UploadStore({
      location: { bucket: rgw.bucket, prefix: 'faults/' },
      clientConfig: { ...config, requestHandler: handler, maxAttempts: 2 },
    });
    s3 = new S3Client(config);
  }, 180_000);
  afterAll(async () => {
    s3?.destroy();
    await rgw?.stop();
  }, 60_000);

  const offsetOf = async (id: string): Promise<number> => (await store.getUpload(id)).offset;
  const write = (id: string, bytes: Buffer, at: number): Promise<number> =>
    store.write(Readable.from([bytes.subarray(at)]), id, at);
  const writeRange = (id: string, bytes: Buffer, at: number, end: number): Promise<number> =>
    store.write(Readable.from([bytes.subarray(at, end)]), id, at);

  async function faulted<T>(match: (r: SentRequest) => boolean, f: () => Promise<T>): Promise<unknown> {
    handler.fault = match;
    try {
      await f();
      return undefined;
    } catch (err) {
      return err;
    } finally {
      handler.fault = undefined;
    }
  }

  it('keeps the confirmed offset when the new .part, the joined part or the old .part delete fails', async () => {
    const KiB = 1024;
    const body = randomBytes(6 * 1024 * KiB + 123);
    const id = 'u-part-faults';
    await store.create(new Upload({ id, size: body.length, offset: 0 }));
    expect(await writeRange(id, body, 0, 64 * KiB)).toBe(64 * KiB);
    expect(await offsetOf(id)).toBe(64 * KiB);

    // The next 64 KiB join the waiting ones in a new .part, which the bucket refuses.
    const e1 = await faulted(putPart, () => writeRange(id, body, 64 * KiB, 128 * KiB));
    expect((e1 as Error | undefined)?.name).toBe('InjectedFault');
    expect(await offsetOf(id)).toBe(64 * KiB);
    expect(await writeRange(id, body, 64 * KiB, 128 * KiB)).toBe(128 * KiB);
    expect(await offsetOf(id)).toBe(128 * KiB);

    // Joined with 5 MiB more they make a whole part, which the bucket refuses.
    const partEnd = 128 * KiB + 5 * 1024 * KiB;
    const e2 = await faulted(uploadPart, () => writeRange(id, body, 128 * KiB, partEnd));
    expect((e2 as Error | undefined)?.name).toBe('InjectedFault');
    expect(await offsetOf(id)).toBe(128 * KiB);

    // The part is kept but the old .part is not deleted: its bytes count once.
    const e3 = await faulted(deletePart, () => writeRange(id, body, 128 * KiB, partEnd));
    expect((e3 as Error | undefined)?.name).toBe('InjectedFault');
    expect(await offsetOf(id)).toBe(partEnd);

    // The rest finishes the upload with exactly the bytes sent, and the old .part is gone.
    expect(await write(id, body, partEnd)).toBe(body.length);
    expect(await offsetOf(id)).toBe(body.length);
    const got = await s3.send(new GetObjectCommand({ Bucket: rgw.bucket, Key: `faults/uploads/${id}` }));
    expect(Buffer.from(await got.Body!.transformToByteArray()).equals(body)).toBe(true);
    const part = await s3
      .send(new HeadObjectCommand({ Bucket: rgw.bucket, Key: `faults/uploads/${id}.part` }))
      .then(() => 'present')
      .catch((err: { name?: string }) => err.name);
    expect(part).toBe('NotFound');
  }, 120_000);

  it('completes an upload whose every byte is in a part but whose completion failed, when it is next read', async () => {
    const body = randomBytes(100 * 1024 + 9);
    const id = 'u-complete-fault';
    await store.create(new Upload({ id, size: body.length, offset: 0 }));
    expect(await writeRange(id, body, 0, 40 * 1024)).toBe(40 * 1024);
    const e = await faulted(completeUpload, () => write(id, body, 40 * 1024));
    expect((e as Error | undefined)?.name).toBe('InjectedFault');
    expect(await offsetOf(id)).toBe(body.length);
    const got = await s3.send(new GetObjectCommand({ Bucket: rgw.bucket, Key: `faults/uploads/${id}` }));
    expect(Buffer.from(await got.Body!.transformToByteArray()).equals(body)).toBe(true);
    expect(await offsetOf(id)).toBe(body.length);
  }, 120_000);
});
