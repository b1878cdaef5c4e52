// A receiver started with requireSignatures: a device enrols with its one-time token, then every
// upload and record it sends is signed with its key (the agent's tus client does this); unsigned
// requests, and a record whose body is not the one signed, are refused with a code.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../agent/log.ts';
import { TusClient } from '../../../agent/sync/tus-client.ts';
import { startReceiver, type ReceiverHandle } from '../../../receiver/server.ts';
import { FakeDevice } from '../sync/fake-device.ts';

const token = 'enrol-token-0123456789abcdefghijklmnop';

describe('receiver with signed requests required', () => {
  let root: string;
  let receiver: ReceiverHandle;
  let dev: FakeDevice;
  let client: TusClient;

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'rigcap-signed-'));
    receiver = await startReceiver({
      dataDir: join(root, 'store'),
      host: '127.0.0.1',
      port: 0,
      enrollTokens: [token],
      log: silentLogger(),
      requireSignatures: true,
    });
    dev = new FakeDevice({ deviceId: 'rig-s', spoolDir: join(root, 'spool') });
    client = new TusClient({
      baseUrl: receiver.url,
      partBytes: 64 * 1024,
      log: silentLogger(),
      signer: dev.signer,
    });
  });
  afterAll(async () => {
    await client?.close();
    await receiver?.close();
    rmSync(root, { recursive: true, force: true });
  });

  const post = async (body: Uint8Array, headers: Record<string, string> = {}): Promise<[number, string]> => {
    const res = await fetch(`${receiver.url}/v1/records`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: Buffer.from(body),
    });
    return [res.status, String(((await res.json()) as { code?: string }).code)];
  };

  it('enrols with the token, then takes signed uploads and records and refuses unsigned ones', async () => {
    const unsigned = await fetch(`${receiver.url}/v1/uploads`, {
      method: 'POST',
      headers: { 'tus-resumable': '1.0.0', 'upload-length': '10', 'upload-metadata': 'sha256 eA==' },
    });
    expect(unsigned.status).toBe(401);
    expect(readdirSync(join(root, 'store', 'incoming'))).toEqual([]);

    const enrolled = await fetch(`${receiver.url}/v1/records`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'rigcap-enroll-token': token },
      body: Buffer.from(dev.enrol()),
    });
    expect(enrolled.status).toBe(201);

    const chunk = dev.chunk({ bytes: 150_000 });
    await client.upload({
      path: chunk.path,
      sha256: chunk.sha256,
      size: 150_000,
      name: 'chunk-000001.mcap',
      onProgress: () => undefined,
    });
    expect(await client.blobStored(chunk.sha256)).toBe(true);

    expect(await post(chunk.record)).toEqual([401, 'RIGCAP_RECEIVER_UNAUTHENTICATED']);
    const signed = await client.call('POST', '/v1/records', {
      headers: { 'content-type': 'application/json' },
      body: Buffer.from(chunk.record),
    });
    expect(signed.status).toBe(201);
  });
});
