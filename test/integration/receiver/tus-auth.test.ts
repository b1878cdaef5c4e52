// Every tus request is signed by an enrolled device: unsigned, badly signed, replayed, stale and
// foreign requests get a code and store nothing; a part that does not match its signed digest is
// refused whole; a device sees only its own uploads; PATCH bodies are spooled and bounded.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { FileStore } from '@tus/file-store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../agent/log.ts';
import { TusClient } from '../../../agent/sync/tus-client.ts';
import { generateKeyPair, nodeSigner, type Signer } from '../../../agent/records/ed25519.ts';
import { QuotaBook } from '../../../receiver/auth/quotas.ts';
import { RequestAuth } from '../../../receiver/auth/request-auth.ts';
import { FileBlobStore } from '../../../receiver/blob-store.ts';
import { registerTusRoutes } from '../../../receiver/tus-routes.ts';
import { signed as signedHeaders } from '../../support/fleet-requests.ts';

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

function device(id: string): { id: string; signer: Signer; publicPem: string } {
  const pair = generateKeyPair();
  return { id, signer: nodeSigner(pair.privateKeyPem), publicPem: pair.publicKeyPem };
}

describe('tus routes with signed requests', () => {
  let root: string;
  let app: FastifyInstance;
  let base: string;
  const nowS = Math.floor(Date.now() / 1000);
  const rigA = device('rig-a');
  const rigB = device('rig-b');
  const stranger = device('stranger');
  const revoked = device('rig-old');

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'rigcap-tus-auth-'));
    const incomingDir = join(root, 'incoming');
    const keys = new Map(
      [rigA, rigB, revoked].map((d) => [
        d.signer.keyId,
        { signerId: d.id, publicPem: d.publicPem, revokedFromSeq: d === revoked ? 3 : null },
      ]),
    );
    app = Fastify();
    app.setErrorHandler((err, _req, reply) => {
      const e = err as { code?: string; message: string };
      const status =
        {
          RIGCAP_RECEIVER_UNAUTHENTICATED: 401,
          RIGCAP_RECEIVER_BAD_SIGNATURE: 401,
          RIGCAP_RECEIVER_REPLAY: 401,
          RIGCAP_RECEIVER_UNKNOWN_DEVICE: 403,
          RIGCAP_RECEIVER_KEY_REVOKED: 403,
          RIGCAP_RECEIVER_OVERSIZE: 413,
        }[e.code ?? ''] ?? 500;
      return reply.code(status).send({ code: e.code, message: e.message });
    });
    const { mkdirSync } = await import('node:fs');
    mkdirSync(incomingDir, { recursive: true });
    mkdirSync(join(root, 'parts'));
    registerTusRoutes(app, {
      datastore: new FileStore({ directory: incomingDir }),
      blobs: new FileBlobStore({ root, incomingDir }),
      maxUploadBytes: 10 * 1024 * 1024,
      maxPartBytes: 256 * 1024,
      log: silentLogger(),
      auth: new RequestAuth({ keys: { key: async (k) => keys.get(k) }, nowS: () => nowS }),
      partDir: join(root, 'parts'),
      quotas: new QuotaBook({ bytesPerDay: 0, concurrentUploads: 0, uploadBytes: 0 }),
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const address = app.server.address();
    base = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`;
  });
  afterAll(async () => {
    await app.close();
    rmSync(root, { recursive: true, force: true });
  });

  const stored = (): string[] => readdirSync(join(root, 'incoming'));
  const parts = (): string[] => readdirSync(join(root, 'parts'));

  /** A signed tus request as the receiver's fixed clock expects it. */
  function signed(
    who: { signer: Signer },
    method: string,
    path: string,
    headers: Record<string, string>,
    body?: Uint8Array,
    o: { created?: number; nonce?: string } = {},
  ): Record<string, string> {
    return signedHeaders(who, method, path, { 'tus-resumable': '1.0.0', ...headers }, body, {
      created: nowS,
      ...o,
    });
  }

  async function create(who: { signer: Signer }, body: Uint8Array): Promise<string> {
    const headers = signed(who, 'POST', '/v1/uploads', {
      'upload-length': String(body.length),
      'upload-metadata': `sha256 ${Buffer.from(sha256(body)).toString('base64')}`,
    });
    const res = await fetch(`${base}/v1/uploads`, { method: 'POST', headers });
    expect(res.status).toBe(201);
    const location = res.headers.get('location') ?? '';
    return location.startsWith('http') ? new URL(location).pathname : location;
  }

  const createHeaders = (body: Uint8Array): Record<string, string> => ({
    'tus-resumable': '1.0.0',
    'upload-length': String(body.length),
    'upload-metadata': `sha256 ${Buffer.from(sha256(body)).toString('base64')}`,
  });

  it('refuses an unsigned create with 401 RIGCAP_RECEIVER_UNAUTHENTICATED and stores nothing', async () => {
    const res = await fetch(`${base}/v1/uploads`, {
      method: 'POST',
      headers: createHeaders(Buffer.from('x')),
    });
    expect(res.status).toBe(401);
    expect(((await res.json()) as { code: string }).code).toBe('RIGCAP_RECEIVER_UNAUTHENTICATED');
    expect(stored()).toEqual([]);
  });

  it('refuses a bad signature, an unknown device, a revoked key, a replay and a stale request', async () => {
    const body = Buffer.from('hello');
    const good = signed(rigA, 'POST', '/v1/uploads', createHeaders(body));
    const tampered = { ...good, 'upload-length': '4' };
    const cases: Array<[Record<string, string>, number, string]> = [
      [tampered, 401, 'RIGCAP_RECEIVER_BAD_SIGNATURE'],
      [signed(stranger, 'POST', '/v1/uploads', createHeaders(body)), 403, 'RIGCAP_RECEIVER_UNKNOWN_DEVICE'],
      [signed(revoked, 'POST', '/v1/uploads', createHeaders(body)), 403, 'RIGCAP_RECEIVER_KEY_REVOKED'],
      [
        signed(rigA, 'POST', '/v1/uploads', createHeaders(body), undefined, { created: nowS - 3600 }),
        401,
        'RIGCAP_RECEIVER_REPLAY',
      ],
      [{ ...good, signature: 'rigcap=:AAAA:' }, 401, 'RIGCAP_RECEIVER_BAD_SIGNATURE'],
    ];
    for (const [headers, status, code] of cases) {
      const res = await fetch(`${base}/v1/uploads`, { method: 'POST', headers });
      expect([res.status, ((await res.json()) as { code: string }).code]).toEqual([status, code]);
    }
    expect(stored()).toEqual([]);
    const first = await fetch(`${base}/v1/uploads`, { method: 'POST', headers: good });
    expect(first.status).toBe(201);
    const replay = await fetch(`${base}/v1/uploads`, { method: 'POST', headers: good });
    expect([replay.status, ((await replay.json()) as { code: string }).code]).toEqual([
      401,
      'RIGCAP_RECEIVER_REPLAY',
    ]);
  });

  it('stores a signed upload; unsigned and foreign HEAD/PATCH/DELETE are refused and change nothing', async () => {
    const body = randomBytes(200 * 1024);
    const path = await create(rigA, body);
    const half = body.subarray(0, 100 * 1024);
    for (const method of ['HEAD', 'PATCH', 'DELETE']) {
      const init: RequestInit = {
        method,
        headers: {
          'tus-resumable': '1.0.0',
          'upload-offset': '0',
          'content-type': 'application/offset+octet-stream',
        },
      };
      if (method === 'PATCH') init.body = half;
      expect((await fetch(`${base}${path}`, init)).status).toBe(401);
    }
    // rig-b is enrolled but did not create it: to rig-b the upload does not exist.
    const foreign = await fetch(`${base}${path}`, {
      method: 'HEAD',
      headers: signed(rigB, 'HEAD', path, {}),
    });
    expect(foreign.status).toBe(404);
    const foreignDelete = await fetch(`${base}${path}`, {
      method: 'DELETE',
      headers: signed(rigB, 'DELETE', path, {}),
    });
    expect(foreignDelete.status).toBe(404);
    // A part that is not the one signed (same length, other bytes) is refused whole.
    const patchHeaders = { 'upload-offset': '0', 'content-type': 'application/offset+octet-stream' };
    const swapped = await fetch(`${base}${path}`, {
      method: 'PATCH',
      headers: signed(rigA, 'PATCH', path, patchHeaders, half),
      body: randomBytes(half.length),
    });
    expect([swapped.status, ((await swapped.json()) as { code: string }).code]).toEqual([
      401,
      'RIGCAP_RECEIVER_BAD_SIGNATURE',
    ]);
    const head = await fetch(`${base}${path}`, { method: 'HEAD', headers: signed(rigA, 'HEAD', path, {}) });
    expect(head.headers.get('upload-offset')).toBe('0');
    for (const [offset, part] of [
      [0, half],
      [half.length, body.subarray(half.length)],
    ] as const) {
      const h = { 'upload-offset': String(offset), 'content-type': 'application/offset+octet-stream' };
      const res = await fetch(`${base}${path}`, {
        method: 'PATCH',
        headers: signed(rigA, 'PATCH', path, h, part),
        body: part,
      });
      expect(res.status).toBe(204);
    }
    const blob = await new FileBlobStore({ root, incomingDir: join(root, 'incoming') }).size(sha256(body));
    expect(blob).toBe(body.length);
    expect(parts()).toEqual([]);
  });

  it('refuses a part over the part limit with 413 and keeps nothing of it', async () => {
    const body = randomBytes(300 * 1024);
    const path = await create(rigA, body);
    const h = { 'upload-offset': '0', 'content-type': 'application/offset+octet-stream' };
    const res = await fetch(`${base}${path}`, {
      method: 'PATCH',
      headers: signed(rigA, 'PATCH', path, h, body),
      body,
    });
    expect(res.status).toBe(413);
    const head = await fetch(`${base}${path}`, { method: 'HEAD', headers: signed(rigA, 'HEAD', path, {}) });
    expect(head.headers.get('upload-offset')).toBe('0');
    expect(parts()).toEqual([]);
  });

  it('answers a traversal in an upload name with RIGCAP_RECEIVER_BAD_NAME', async () => {
    for (const name of ['..%2F..%2Fetc%2Fpasswd', '0123456789abcdef0123456789abcdeg']) {
      const path = `/v1/uploads/${name}`;
      const res = await fetch(`${base}${path}`, {
        method: 'DELETE',
        headers: signed(rigA, 'DELETE', path, {}),
      });
      expect([res.status, ((await res.json()) as { code: string }).code]).toEqual([
        404,
        'RIGCAP_RECEIVER_BAD_NAME',
      ]);
    }
  });

  it("uploads through the agent's tus client with the device key: every request signed, the blob stored", async () => {
    const body = randomBytes(150 * 1024);
    const file = join(root, 'chunk.bin');
    writeFileSync(file, body);
    const client = new TusClient({
      baseUrl: base,
      partBytes: 64 * 1024,
      log: silentLogger(),
      signer: rigB.signer,
    });
    const offsets: number[] = [];
    try {
      await client.upload({
        path: file,
        sha256: sha256(body),
        size: body.length,
        name: 'chunk-000001.mcap',
        onProgress: (p) => offsets.push(p.offset),
      });
    } finally {
      await client.close();
    }
    expect(offsets).toEqual([0, 65536, 131072, 153600]);
    expect(await new FileBlobStore({ root, incomingDir: join(root, 'incoming') }).size(sha256(body))).toBe(
      body.length,
    );
  });

  it('holds each device to its quotas: upload size, open uploads, bytes a day (codes, nothing stored)', async () => {
    const quotas = new QuotaBook({ bytesPerDay: 100 * 1024, concurrentUploads: 1, uploadBytes: 200 * 1024 });
    const limited = Fastify();
    limited.setErrorHandler((err, _req, reply) => {
      const e = err as { code?: string; message: string };
      const status = { RIGCAP_RECEIVER_OVERSIZE: 413, RIGCAP_RECEIVER_QUOTA: 429 }[e.code ?? ''] ?? 500;
      return reply.code(status).send({ code: e.code, message: e.message });
    });
    const incomingDir = join(root, 'limited');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(incomingDir);
    const keys = new Map([
      [rigA.signer.keyId, { signerId: rigA.id, publicPem: rigA.publicPem, revokedFromSeq: null }],
    ]);
    registerTusRoutes(limited, {
      datastore: new FileStore({ directory: incomingDir }),
      blobs: new FileBlobStore({ root, incomingDir }),
      maxUploadBytes: 10 * 1024 * 1024,
      maxPartBytes: 256 * 1024,
      log: silentLogger(),
      auth: new RequestAuth({ keys: { key: async (k) => keys.get(k) } }),
      partDir: join(root, 'parts'),
      quotas,
    });
    await limited.listen({ host: '127.0.0.1', port: 0 });
    const address = limited.server.address();
    const url = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`;
    const post = (body: Uint8Array): Promise<Response> =>
      fetch(`${url}/v1/uploads`, {
        method: 'POST',
        headers: signed(rigA, 'POST', '/v1/uploads', createHeaders(body)),
      });
    const codeOf = async (res: Response): Promise<[number, string]> => [
      res.status,
      ((await res.json()) as { code: string }).code,
    ];
    try {
      expect(await codeOf(await post(randomBytes(300 * 1024)))).toEqual([413, 'RIGCAP_RECEIVER_OVERSIZE']);
      const body = randomBytes(150 * 1024);
      const created = await post(body);
      expect(created.status).toBe(201);
      expect(await codeOf(await post(randomBytes(10)))).toEqual([429, 'RIGCAP_RECEIVER_QUOTA']);
      const path = new URL(created.headers.get('location') ?? '', url).pathname;
      const part = body.subarray(0, 64 * 1024);
      const h = { 'upload-offset': '0', 'content-type': 'application/offset+octet-stream' };
      const first = await fetch(`${url}${path}`, {
        method: 'PATCH',
        headers: signed(rigA, 'PATCH', path, h, part),
        body: part,
      });
      expect(first.status).toBe(204);
      const next = body.subarray(64 * 1024, 128 * 1024);
      const h2 = { 'upload-offset': String(64 * 1024), 'content-type': 'application/offset+octet-stream' };
      const over = await fetch(`${url}${path}`, {
        method: 'PATCH',
        headers: signed(rigA, 'PATCH', path, h2, next),
        body: next,
      });
      expect(await codeOf(over)).toEqual([429, 'RIGCAP_RECEIVER_QUOTA']);
      const head = await fetch(`${url}${path}`, { method: 'HEAD', headers: signed(rigA, 'HEAD', path, {}) });
      expect(head.headers.get('upload-offset')).toBe(String(64 * 1024));
    } finally {
      await limited.close();
    }
  });
});
