import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../agent/log.ts';
import { serializeEnvelope } from '../../../agent/records/dsse.ts';
import { generateKeyPair, nodeSigner } from '../../../agent/records/ed25519.ts';
import { TusClient } from '../../../agent/sync/tus-client.ts';
import { startReceiver, type ReceiverHandle } from '../../../receiver/server.ts';
import { FakeDevice } from './fake-device.ts';

const token = 'enrol-secret-1';

async function post(
  url: string,
  body: Uint8Array | string,
  headers: Record<string, string> = {},
): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${url}/v1/records`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: Buffer.from(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

describe('receiver', () => {
  let root: string;
  let receiver: ReceiverHandle;
  let dev: FakeDevice;
  let client: TusClient;

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'rigcap-recv-'));
    receiver = await startReceiver({
      dataDir: join(root, 'store'),
      host: '127.0.0.1',
      port: 0,
      enrollTokens: [token, 'second-token'],
      maxUploadBytes: 1024 * 1024,
      maxPartBytes: 256 * 1024,
      log: silentLogger(),
    });
    dev = new FakeDevice({ deviceId: 'rig-a', spoolDir: join(root, 'spool') });
    client = new TusClient({ baseUrl: receiver.url, partBytes: 100 * 1024, log: silentLogger() });
  });
  afterAll(async () => {
    await client.close();
    await receiver.close();
    rmSync(root, { recursive: true, force: true });
  });

  it('keeps its key outside the data directory, mode 0600', () => {
    const keyFile = `${join(root, 'store')}.secrets/store.key`;
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
  });

  it('refuses records from a device that is not enrolled, and enrolment without the token', async () => {
    const other = new FakeDevice({ deviceId: 'rig-x', spoolDir: join(root, 'spool-x') });
    const enrol = other.enrol();
    expect((await post(receiver.url, enrol)).json['code']).toBe('RIGCAP_RECEIVER_ENROLL_REFUSED');
    expect((await post(receiver.url, enrol, { 'rigcap-enroll-token': 'wrong' })).status).toBe(403);
    const open = other.openSession();
    const r = await post(receiver.url, open);
    expect(r.status).toBe(403);
    expect(r.json['code']).toBe('RIGCAP_RECEIVER_UNKNOWN_DEVICE');
  });

  it('enrols with the one-time token, stores chunk and records in the spool layout and answers with a receipt', async () => {
    const enrol = await post(receiver.url, dev.enrol(), { 'rigcap-enroll-token': token });
    expect(enrol.status).toBe(201);
    expect((await post(receiver.url, dev.openSession())).status).toBe(201);
    const chunk = dev.chunk({ bytes: 300_000 });
    // A record before its blob is refused.
    expect((await post(receiver.url, chunk.record)).json['code']).toBe('RIGCAP_RECEIVER_BLOB_MISSING');
    expect(await client.blobStored(chunk.sha256)).toBe(false);
    const progress: number[] = [];
    await client.upload({
      path: chunk.path,
      sha256: chunk.sha256,
      size: 300_000,
      name: 'chunk-000001.mcap',
      onProgress: (p) => progress.push(p.offset),
    });
    expect(progress).toEqual([0, 102400, 204800, 300000]);
    expect(await client.blobStored(chunk.sha256)).toBe(true);
    const accepted = await post(receiver.url, chunk.record);
    expect(accepted.status).toBe(201);
    // The log holds the store's enrol record, then each device record followed by its receipt.
    expect(accepted.json['logIndex']).toBe(5);
    expect(String(accepted.json['checkpoint'])).toMatch(/^rigcap\.store\/store-[0-9a-f]{16}\n6\n/);
    // Same record again: same receipt, nothing new in the log.
    const again = await post(receiver.url, chunk.record);
    expect(again.status).toBe(200);
    expect(again.json['receipt']).toEqual(accepted.json['receipt']);

    const store = join(root, 'store');
    const sid = dev.sessionId;
    expect(
      createHash('sha256')
        .update(readFileSync(join(store, 'sessions', sid, 'chunk-000001.mcap')))
        .digest('hex'),
    ).toBe(chunk.sha256);
    expect(readFileSync(join(store, 'sessions', sid, 'chunk-000001.mcap.dsse.json'))).toEqual(
      Buffer.from(chunk.record),
    );
    expect(
      readFileSync(join(store, 'records', 'rig-a', `${String(chunk.seq).padStart(12, '0')}.dsse.json`)),
    ).toEqual(Buffer.from(chunk.record));
    expect(
      readFileSync(join(store, 'sessions', sid, 'session.dsse.json'), 'utf8')
        .trim()
        .split('\n'),
    ).toHaveLength(1);
    expect(readFileSync(join(store, 'keys', 'rig-a.pub.pem'), 'utf8')).toBe(dev.publicKeyPem);
    expect(existsSync(join(store, 'keys', `${receiver.storeId}.pub.pem`))).toBe(true);
    expect(existsSync(join(store, 'records', receiver.storeId, '000000000003.dsse.json'))).toBe(true);
  });

  it('refuses a reused token for a second device', async () => {
    const other = new FakeDevice({ deviceId: 'rig-b', spoolDir: join(root, 'spool-b') });
    expect((await post(receiver.url, other.enrol(), { 'rigcap-enroll-token': token })).json['code']).toBe(
      'RIGCAP_RECEIVER_ENROLL_REFUSED',
    );
  });

  it('refuses a bad signature, a fork, a foreign key, a path-traversal name and stores nothing', async () => {
    const chunk = dev.chunk({ bytes: 1000 });
    await client.upload({
      path: chunk.path,
      sha256: chunk.sha256,
      size: 1000,
      name: 'c',
      onProgress: () => undefined,
    });
    const env = JSON.parse(Buffer.from(chunk.record).toString('utf8')) as {
      signatures: Array<{ sig: string }>;
    };
    const sig = Buffer.from(env.signatures[0]!.sig, 'base64');
    sig[0] = (sig[0] ?? 0) ^ 1;
    env.signatures[0]!.sig = sig.toString('base64');
    const forged = await post(receiver.url, JSON.stringify(env));
    expect([forged.status, forged.json['code']]).toEqual([401, 'RIGCAP_RECEIVER_BAD_SIGNATURE']);

    // Fork: a different record at a seq the store already holds.
    const seq = dev.chain.head!.seq;
    expect((await post(receiver.url, chunk.record)).status).toBe(201);
    const forkDev = dev.sign('heartbeat', [{ name: 'record-x', digest: { sha256: '0'.repeat(64) } }], {
      sessionId: null,
      uptimeNs: '1',
      status: {},
    });
    const forkEnv = serializeEnvelope(forkDev.envelope);
    // Re-sign at the same seq by rewinding: build with a fresh chain state at seq.
    const { ChainState, buildRecord } = await import('../../../agent/records/chain.ts');
    const rewound = new ChainState({ seq: seq - 1, payloadSha256: '1'.repeat(64) });
    const fork = buildRecord({
      name: 'heartbeat',
      body: { sessionId: null, uptimeNs: '2', status: {} },
      subject: [{ name: 'record-x', digest: { sha256: '0'.repeat(64) } }],
      link: rewound.next(),
      context: { signerId: 'rig-a', bootId: 'b', monoNs: 1n, wallNs: 1n },
      signer: dev.signer,
    });
    const forkRes = await post(receiver.url, serializeEnvelope(fork.envelope));
    expect([forkRes.status, forkRes.json['code']]).toEqual([409, 'RIGCAP_RECEIVER_CHAIN_FORK']);
    expect((await post(receiver.url, forkEnv)).status).toBe(201);

    // A key that is not the device's.
    const stranger = nodeSigner(generateKeyPair().privateKeyPem);
    const foreign = dev.sign(
      'heartbeat',
      [{ name: 'record-y', digest: { sha256: '0'.repeat(64) } }],
      { sessionId: null, uptimeNs: '3', status: {} },
      { signer: stranger },
    );
    expect((await post(receiver.url, serializeEnvelope(foreign.envelope))).json['code']).toBe(
      'RIGCAP_RECEIVER_UNKNOWN_DEVICE',
    );

    const evil = new FakeDevice({ deviceId: 'rig-a', spoolDir: join(root, 'spool-evil'), sessionId: 'ok' });
    const body = JSON.parse(Buffer.from(evil.enrol()).toString('utf8')) as Record<string, unknown>;
    const statement = JSON.parse(Buffer.from(String(body['payload']), 'base64').toString('utf8')) as {
      predicate: { chain: { deviceId: string } };
    };
    statement.predicate.chain.deviceId = '../../etc';
    body['payload'] = Buffer.from(JSON.stringify(statement)).toString('base64');
    const traversal = await post(receiver.url, JSON.stringify(body));
    expect([traversal.status, traversal.json['code']]).toEqual([400, 'RIGCAP_RECEIVER_BAD_NAME']);
    expect(existsSync(join(root, 'etc'))).toBe(false);
  });

  it('refuses a revoked key from its invalid seq on', async () => {
    const next = dev.chain.next().seq;
    const revoke = dev.sign(
      'device-key',
      [{ name: `key-${dev.signer.keyId}`, digest: { sha256: dev.signer.keyId } }],
      {
        action: 'revoke',
        keyId: dev.signer.keyId,
        invalidFromSeq: next + 1,
        reason: 'lost',
      },
    );
    expect((await post(receiver.url, serializeEnvelope(revoke.envelope))).status).toBe(201);
    const after = dev.sign('heartbeat', [{ name: 'r', digest: { sha256: '0'.repeat(64) } }], {
      sessionId: null,
      uptimeNs: '4',
      status: {},
    });
    const res = await post(receiver.url, serializeEnvelope(after.envelope));
    expect([res.status, res.json['code']]).toEqual([403, 'RIGCAP_RECEIVER_KEY_REVOKED']);
  });

  it('refuses oversize uploads, damaged parts (460) and a blob whose bytes do not match the declared digest', async () => {
    const big = await fetch(`${receiver.url}/v1/uploads`, {
      method: 'POST',
      headers: {
        'tus-resumable': '1.0.0',
        'upload-length': String(2 * 1024 * 1024),
        'upload-metadata': `sha256 ${Buffer.from('a'.repeat(64)).toString('base64')}`,
      },
    });
    expect(big.status).toBe(413);
    expect(((await big.json()) as { code: string }).code).toBe('RIGCAP_RECEIVER_OVERSIZE');

    const data = Buffer.alloc(1000, 7);
    const wrong = createHash('sha256').update('other').digest('hex');
    const url = await client.create({ length: 1000, sha256: wrong, name: 'x' });
    const bad = await fetch(url, {
      method: 'PATCH',
      headers: {
        'tus-resumable': '1.0.0',
        'upload-offset': '0',
        'content-type': 'application/offset+octet-stream',
        'upload-checksum': `sha256 ${createHash('sha256').update('nope').digest('base64')}`,
      },
      body: data,
    });
    expect(bad.status).toBe(460);
    expect(await client.offset(url)).toBe(0);
    const status = await client
      .patch(url, 0, data)
      .catch((e: { status?: number; code?: string }) => [e.status, e.code]);
    expect(status).toEqual([422, 'RIGCAP_RECEIVER_DIGEST_MISMATCH']);
    expect(await client.blobStored(wrong)).toBe(false);
  });

  it('serves an OpenAPI document generated from the route schemas, and consistency proofs', async () => {
    const doc = (await (await fetch(`${receiver.url}/openapi.json`)).json()) as {
      openapi: string;
      paths: Record<string, unknown>;
    };
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(['/v1/records', '/v1/blobs/sha256/{hex}', '/v1/log/consistency', '/v1/uploads']),
    );
    const proof = (await (await fetch(`${receiver.url}/v1/log/consistency?first=1&second=3`)).json()) as {
      proof: string[];
    };
    expect(proof.proof.length).toBeGreaterThan(0);
    const badRange = await fetch(`${receiver.url}/v1/log/consistency?first=5&second=1`);
    expect(badRange.status).toBe(400);
  });
});
