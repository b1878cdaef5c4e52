import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../agent/log.ts';
import { parseCheckpoint } from '../../../agent/records/checkpoint.ts';
import { serializeEnvelope, type DsseEnvelope } from '../../../agent/records/dsse.ts';
import { recordFileName } from '../../../agent/records/predicates.ts';
import { leafHash, verifyInclusion } from '../../../agent/records/merkle.ts';
import {
  decodeEntryBundle,
  entryBundlePath,
  treeFromTiles,
  type TileReader,
} from '../../../agent/records/tlog-tiles.ts';
import { pgPublishLock } from '../../../receiver/log-tiles/pg-lock.ts';
import { TilePublisher } from '../../../receiver/log-tiles/publisher.ts';
import { dirTileSink } from '../../../receiver/log-tiles/sinks.ts';
import { dirTileReader, httpTileReader } from '../../../receiver/log-tiles/tiles-source.ts';
import { startReceiver, type ReceiverHandle } from '../../../receiver/server.ts';
import { EmbeddedReceiverState } from '../../../receiver/state/embedded.ts';
import { loadOrCreateStoreKey } from '../../../receiver/store-key.ts';
import { runCli } from '../../support/cli.ts';
import { postgresSkipReason, startPostgres, type PostgresEngine } from '../../support/engines/postgres.ts';
import { rgwSkipReason, startRgw, useRgwCredentials, type RgwEngine } from '../../support/engines/rgw.ts';
import { waitFor } from '../../support/wait.ts';
import { FakeDevice } from '../sync/fake-device.ts';

const token = 'tiles-enrol-token-0123456789';

interface Answer {
  receipt: DsseEnvelope;
  logIndex: number;
  checkpoint: string;
  inclusionProof: string[];
}

async function post(url: string, body: Uint8Array, headers: Record<string, string> = {}): Promise<Answer> {
  const res = await fetch(`${url}/v1/records`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: Buffer.from(body),
  });
  expect(res.status).toBe(201);
  return (await res.json()) as Answer;
}

/** Size of the published checkpoint, once it is `size`. */
async function published(read: TileReader, size: number): Promise<number> {
  await waitFor(
    async () => {
      const note = await read('checkpoint');
      const body = note === undefined ? '' : Buffer.from(note).toString('utf8').split('\n\n')[0];
      return parseCheckpoint(`${body ?? ''}\n`)?.size === size;
    },
    { timeoutMs: 30_000, what: `the published checkpoint to reach ${size} entries` },
  );
  return size;
}

/** The receipt's record, its inclusion proof and its checkpoint, checked from published tiles alone. */
async function checkReceiptAgainstTiles(read: TileReader, posted: Uint8Array, answer: Answer): Promise<void> {
  const size = answer.logIndex + 1;
  const note = await read('checkpoint');
  const cp = parseCheckpoint(
    `${
      Buffer.from(note ?? '')
        .toString('utf8')
        .split('\n\n')[0] ?? ''
    }\n`,
  );
  const tree = await treeFromTiles(read, cp?.size ?? 0);
  const answered = parseCheckpoint(`${answer.checkpoint.split('\n\n')[0] ?? ''}\n`);
  expect(answered?.root.equals(tree.root(size))).toBe(true);
  const proof = answer.inclusionProof.map((h) => Buffer.from(h, 'base64'));
  expect(proof).toEqual(tree.inclusionProof(answer.logIndex, size));
  const bundle = decodeEntryBundle(
    (await read(entryBundlePath(0, Math.min(256, cp?.size ?? 0)))) ?? new Uint8Array(),
  );
  const entry = bundle?.[answer.logIndex];
  expect(entry?.equals(Buffer.from(posted))).toBe(true);
  expect(bundle?.[answer.logIndex + 1]?.equals(Buffer.from(serializeEnvelope(answer.receipt)))).toBe(true);
  const leaf = leafHash(entry ?? Buffer.alloc(0));
  expect(verifyInclusion({ leaf, index: answer.logIndex, size, proof, root: tree.root(size) })).toBe(true);
}

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'rigcap-tiles-pub-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('the receiver publishes its log as tlog-tiles', () => {
  let receiver: ReceiverHandle | undefined;
  afterEach(async () => {
    await receiver?.close();
    receiver = undefined;
  });

  it('under DIR/log/tiles and at /log/: audited growing, receipts proved from tiles, a tampered tile exits 1', async () => {
    const data = join(root, 'store');
    receiver = await startReceiver({
      dataDir: data,
      host: '127.0.0.1',
      port: 0,
      enrollTokens: [token],
      log: silentLogger(),
    });
    const keyFile = join(root, 'store.pub.pem');
    await writeFile(keyFile, receiver.key.publicKeyPem);
    const tilesDir = join(data, 'log', 'tiles');
    const state = join(root, 'audit.json');
    const audit = (target: string): ReturnType<typeof runCli> =>
      runCli(['log', 'audit', '--tiles', '--key', keyFile, target, '--state', state, '--json']);
    // A new store publishes an empty checkpoint, so auditing can start on its first day.
    await published(dirTileReader(tilesDir), 0);
    expect((await audit(tilesDir)).code).toBe(0);
    const dev = new FakeDevice({ deviceId: 'rig-tiles', spoolDir: join(root, 'spool') });
    await post(receiver.url, dev.enrol(), { 'rigcap-enroll-token': token });
    const opened = dev.openSession();
    const answer = await post(receiver.url, opened);
    await published(dirTileReader(tilesDir), 5);
    await checkReceiptAgainstTiles(httpTileReader(`${receiver.url}/log`), opened, answer);
    expect((await audit(tilesDir)).code).toBe(0);
    for (let i = 0; i < 130; i++) await post(receiver.url, dev.openSession());
    await published(httpTileReader(`${receiver.url}/log`), 265);
    const grown = await audit(`${receiver.url}/log`);
    expect(grown.code).toBe(0);
    expect(JSON.parse(grown.stdout)).toMatchObject({ ok: true, size: 265, previous: { size: 5 } });

    const full = await fetch(`${receiver.url}/log/tile/0/000`);
    expect(full.headers.get('cache-control')).toContain('immutable');
    expect((await full.arrayBuffer()).byteLength).toBe(256 * 32);
    expect((await fetch(`${receiver.url}/log/tile/0/001.p/9`)).status).toBe(200);
    expect((await fetch(`${receiver.url}/log/tile/1/000.p/1`)).status).toBe(200);
    expect((await fetch(`${receiver.url}/log/checkpoint`)).headers.get('cache-control')).toBe('no-cache');
    expect((await fetch(`${receiver.url}/log/tile/0/..%2F..%2Freceiver.sqlite`)).status).toBe(404);

    const recordFile = join(root, 'spool', 'records', 'rig-tiles', recordFileName(2));
    const prove = (...args: string[]): ReturnType<typeof runCli> =>
      runCli(['log', 'prove', '--key', keyFile, ...args, '--json']);
    const proved = await prove(`${receiver.url}/log`, recordFile, '--index', String(answer.logIndex));
    expect(proved.code).toBe(0);
    expect(JSON.parse(proved.stdout)).toMatchObject({ ok: true, index: answer.logIndex, size: 265 });
    expect((await prove(tilesDir, recordFile)).code).toBe(0);
    expect((await prove(tilesDir, recordFile, '--index', String(answer.logIndex + 2))).code).toBe(1);

    // A record too large for a tile entry is refused at the door, so publishing never stops on one.
    const huge = JSON.stringify({
      payloadType: 'application/vnd.in-toto+json',
      payload: Buffer.alloc(60_000, 0x7b).toString('base64'),
      signatures: [{ keyid: 'k', sig: Buffer.alloc(64).toString('base64') }],
    });
    const refused = await fetch(`${receiver.url}/v1/records`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: huge,
    });
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { message: string }).message).toMatch(/at most 65535/);

    const tile = join(tilesDir, 'tile', '0', '000');
    const bytes = await readFile(tile);
    bytes[40] = (bytes[40] ?? 0) ^ 1;
    await writeFile(tile, bytes);
    const tampered = await audit(tilesDir);
    expect(tampered.code).toBe(1);
    expect(JSON.parse(tampered.stdout)).toMatchObject({ ok: false, problem: 'tampered' });
    expect((await prove(tilesDir, recordFile)).code).toBe(1);
  }, 120_000);

  it('publishes a store whose state predates kept entry bytes, from its records and store files', async () => {
    const data = join(root, 'store');
    const start = (): Promise<ReceiverHandle> =>
      startReceiver({
        dataDir: data,
        host: '127.0.0.1',
        port: 0,
        enrollTokens: [token],
        log: silentLogger(),
      });
    receiver = await start();
    const dev = new FakeDevice({ deviceId: 'rig-old', spoolDir: join(root, 'spool') });
    await post(receiver.url, dev.enrol(), { 'rigcap-enroll-token': token });
    await post(receiver.url, dev.openSession());
    await receiver.close();
    const db = new Database(join(data, 'log', 'receiver.sqlite'));
    db.exec('UPDATE receiver_log SET entry = NULL');
    db.close();
    await rm(join(data, 'log', 'tiles'), { recursive: true, force: true });
    receiver = await start();
    await published(dirTileReader(join(data, 'log', 'tiles')), 5);
    const keyFile = join(root, 'store.pub.pem');
    await writeFile(keyFile, receiver.key.publicKeyPem);
    const audit = await runCli(['log', 'audit', '--tiles', '--key', keyFile, `${receiver.url}/log`]);
    expect(audit.code).toBe(0);
  });

  it('never replaces a published checkpoint with a smaller one', async () => {
    const key = await loadOrCreateStoreKey({ keyFile: join(root, 'secrets', 'store.key') });
    const entries = Array.from({ length: 600 }, (_, i) => Buffer.from(`entry ${i}`));
    const stateOf = async (name: string, n: number): Promise<EmbeddedReceiverState> => {
      const state = new EmbeddedReceiverState(join(root, `${name}.sqlite`));
      await state.admit(async (tx) => {
        for (const [i, e] of entries.slice(0, n).entries()) await tx.appendLeaf(i, leafHash(e), e);
      });
      return state;
    };
    const [behind, ahead] = [await stateOf('behind', 300), await stateOf('ahead', 600)];
    const sink = dirTileSink(join(root, 'tiles'));
    const publisherOf = (state: EmbeddedReceiverState): TilePublisher =>
      new TilePublisher({ state, key, sink, log: silentLogger() });
    try {
      expect(await publisherOf(ahead).publishNow()).toBe(600);
      expect(await publisherOf(behind).publishNow()).toBe(600);
      await published(sink.read.bind(sink), 600);
      expect(await sink.read('tile/0/002.p/88')).toBeDefined();
      // The publisher behind wrote nothing: not even its own partial tile.
      expect(await sink.read('tile/0/001.p/44')).toBeUndefined();
    } finally {
      await behind.close();
      await ahead.close();
    }
  });

  it('an entry over 65535 bytes stops publishing with a code, counted and retried; nothing is published', async () => {
    const state = new EmbeddedReceiverState(join(root, 'state.sqlite'));
    const key = await loadOrCreateStoreKey({ keyFile: join(root, 'secrets', 'store.key') });
    const small = Buffer.from('small entry');
    const big = Buffer.alloc(70_000, 0x61);
    await state.admit(async (tx) => {
      await tx.appendLeaf(0, leafHash(small), small);
      await tx.appendLeaf(1, leafHash(big), big);
    });
    const sink = dirTileSink(join(root, 'tiles'));
    const publisher = new TilePublisher({
      state,
      key,
      sink,
      log: silentLogger(),
      intervalMs: 5,
      maxBackoffMs: 20,
    });
    try {
      await expect(publisher.publishNow()).rejects.toMatchObject({
        code: 'RIGCAP_LOG_TILES_ENTRY_TOO_LARGE',
      });
      publisher.start();
      await waitFor(() => publisher.stats.failures >= 2, { timeoutMs: 10_000, what: 'two failed passes' });
      expect(publisher.stats.lastError).toMatch(/70000 bytes/);
      expect(await sink.read('checkpoint')).toBeUndefined();
    } finally {
      await publisher.stop();
      await state.close();
    }
  });
});

describe.skipIf(postgresSkipReason !== undefined || rgwSkipReason !== undefined)(
  'two receivers on PostgreSQL + RGW publish one log to the bucket',
  () => {
    let postgres: PostgresEngine;
    let rgw: RgwEngine;
    beforeAll(async () => {
      [postgres, rgw] = await Promise.all([startPostgres(), startRgw()]);
      useRgwCredentials(rgw);
    }, 240_000);
    afterAll(async () => {
      await Promise.all([postgres?.stop(), rgw?.stop()]);
    }, 60_000);

    it('one receiver publishes at a time: the lock is refused while another holds it', async () => {
      const pool = new pg.Pool({ connectionString: await postgres.createDatabase() });
      try {
        const [first, second] = [pgPublishLock(pool, silentLogger()), pgPublishLock(pool, silentLogger())];
        let inner: boolean | undefined;
        expect(await first(async () => void (inner = await second(async () => undefined)))).toBe(true);
        expect(inner).toBe(false);
        expect(await second(async () => undefined)).toBe(true);
      } finally {
        await pool.end();
      }
    });

    it('each serves the same tiles; audits across two checkpoints pass and receipts prove from them', async () => {
      const db = await postgres.createDatabase();
      const keyFile = join(root, 'secrets', 'store.key');
      await loadOrCreateStoreKey({ keyFile });
      const fleet: ReceiverHandle[] = [];
      try {
        for (let i = 0; i < 2; i++)
          fleet.push(
            await startReceiver({
              db: { url: db },
              objectStore: { url: `s3://${rgw.bucket}/tiles`, endpoint: rgw.endpoint },
              keyFile,
              host: '127.0.0.1',
              port: 0,
              enrollTokens: [token],
              log: silentLogger(),
            }),
          );
        const [a, b] = fleet as [ReceiverHandle, ReceiverHandle];
        const pub = join(root, 'store.pub.pem');
        await writeFile(pub, a.key.publicKeyPem);
        const state = join(root, 'audit.json');
        const audit = (url: string): ReturnType<typeof runCli> =>
          runCli(['log', 'audit', '--tiles', '--key', pub, `${url}/log`, '--state', state, '--json']);
        const dev = new FakeDevice({ deviceId: 'rig-fleet-tiles', spoolDir: join(root, 'spool') });
        await post(a.url, dev.enrol(), { 'rigcap-enroll-token': token });
        const opened = dev.openSession();
        const answer = await post(b.url, opened);
        await published(httpTileReader(`${a.url}/log`), 5);
        expect((await audit(a.url)).code).toBe(0);
        for (let i = 0; i < 20; i++) await post(i % 2 === 0 ? a.url : b.url, dev.openSession());
        await published(httpTileReader(`${b.url}/log`), 45);
        const second = await audit(b.url);
        expect(second.code).toBe(0);
        expect(JSON.parse(second.stdout)).toMatchObject({ ok: true, size: 45, previous: { size: 5 } });
        await checkReceiptAgainstTiles(httpTileReader(`${a.url}/log`), opened, answer);
      } finally {
        for (const r of fleet) await r.close();
      }
    }, 240_000);
  },
);
