import { createPublicKey } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../agent/log.ts';
import { openNote, parseCheckpoint } from '../../../agent/records/checkpoint.ts';
import { leafHash, verifyInclusion } from '../../../agent/records/merkle.ts';
import { recordFileName } from '../../../agent/records/predicates.ts';
import { FileBlobStore } from '../../../receiver/blob-store.ts';
import { RecordIngest } from '../../../receiver/ingest.ts';
import { StoreLayout } from '../../../receiver/layout.ts';
import { EmbeddedReceiverState } from '../../../receiver/state/embedded.ts';
import { loadOrCreateStoreKey, type StoreKey } from '../../../receiver/store-key.ts';
import { FakeDevice } from '../sync/fake-device.ts';

const token = 'log-enrol-token-0123456789';

function subjectsOf(receipt: { payload: string }): Array<{ name: string; digest: { sha256: string } }> {
  return (
    JSON.parse(Buffer.from(receipt.payload, 'base64').toString('utf8')) as {
      subject: Array<{ name: string; digest: { sha256: string } }>;
    }
  ).subject;
}

describe('the store log', () => {
  let root: string;
  let key: StoreKey;
  const open: Array<{ close(): Promise<void> }> = [];

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'rigcap-storelog-'));
    key = await loadOrCreateStoreKey({ keyFile: join(root, 'secrets', 'store.key') });
  });
  afterAll(async () => {
    for (const o of open) await o.close();
    rmSync(root, { recursive: true, force: true });
  });

  async function store(
    name: string,
  ): Promise<{ ingest: RecordIngest; state: EmbeddedReceiverState; dir: string }> {
    const dir = join(root, name);
    const state = new EmbeddedReceiverState(join(root, `${name}.sqlite`));
    open.push(state);
    const ingest = await RecordIngest.open({
      state,
      layout: new StoreLayout(dir),
      blobs: new FileBlobStore({ root: dir, incomingDir: join(dir, 'incoming') }),
      key,
      log: silentLogger(),
      enrollTokens: [token],
    });
    return { ingest, state, dir };
  }

  it("holds the store's enrol record first, then each record followed by its receipt, as the bytes under records/", async () => {
    const { ingest, state, dir } = await store('order');
    const dev = new FakeDevice({ deviceId: 'rig-log', spoolDir: join(root, 'spool-order') });
    await ingest.submit(dev.enrol(), { enrollToken: token });
    await ingest.submit(dev.openSession());
    const leaves = await state.leavesFrom(0);
    const file = (signer: string, seq: number): Buffer =>
      readFileSync(join(dir, 'records', signer, recordFileName(seq)));
    expect(leaves).toEqual([
      leafHash(file(key.storeId, 1)),
      leafHash(file('rig-log', 1)),
      leafHash(file(key.storeId, 2)),
      leafHash(file('rig-log', 2)),
      leafHash(file(key.storeId, 3)),
    ]);
  });

  it("a record that arrives before its predecessor gets a pending link, and the predecessor's receipt settles it", async () => {
    const { ingest } = await store('pending');
    const dev = new FakeDevice({ deviceId: 'rig-late', spoolDir: join(root, 'spool-pending') });
    const enrol = dev.enrol();
    const open2 = dev.openSession();
    const open3 = dev.openSession();
    await ingest.submit(enrol, { enrollToken: token });
    const third = await ingest.submit(open3);
    // seq 2 is not held yet: the receipt names only the record, its link is pending.
    expect(subjectsOf(third.receipt).map((s) => s.name)).toEqual(['record-rig-late-3']);
    const second = await ingest.submit(open2);
    const names = subjectsOf(second.receipt).map((s) => s.name);
    // seq 2's receipt confirms its own link to seq 1 and settles seq 3's link to it.
    expect(names).toEqual(['record-rig-late-2', 'record-rig-late-1', 'record-rig-late-3']);
    expect(subjectsOf(second.receipt)[2]?.digest.sha256).toBe(subjectsOf(third.receipt)[0]?.digest.sha256);
  });

  it('keeps with each receipt the checkpoint and inclusion proof it was answered with, which verify offline', async () => {
    const { ingest, state } = await store('proofs');
    const dev = new FakeDevice({ deviceId: 'rig-proof', spoolDir: join(root, 'spool-proofs') });
    const enrol = dev.enrol();
    await ingest.submit(enrol, { enrollToken: token });
    const answer = await ingest.submit(dev.openSession());
    // Later entries do not change what was kept for the earlier receipt.
    await ingest.submit(dev.openSession());
    const row = await state.record('rig-proof', 2);
    expect(row?.checkpoint).toBe(answer.checkpoint);
    expect(row?.inclusionProof).toEqual(answer.inclusionProof);
    const body = openNote(row?.checkpoint ?? '', {
      name: ingest.origin,
      publicKey: createPublicKey(key.publicKeyPem),
    });
    const cp = parseCheckpoint(body ?? '');
    expect(cp?.size).toBe((row?.logIndex ?? 0) + 1);
    expect(
      verifyInclusion({
        leaf: leafHash(Buffer.from(row?.envelopeJson ?? '', 'utf8')),
        index: row?.logIndex ?? -1,
        size: cp?.size ?? 0,
        proof: (row?.inclusionProof ?? []).map((h) => Buffer.from(h, 'base64')),
        root: cp?.root ?? Buffer.alloc(32),
      }),
    ).toBe(true);
  });

  it('an embedded state file from before receipts were logged gains the new columns and keeps its records', async () => {
    const path = join(root, 'old.sqlite');
    const old = new Database(path);
    old.exec(`CREATE TABLE receiver_records (signer_id TEXT NOT NULL, seq INTEGER NOT NULL, payload_sha256 TEXT NOT NULL,
      prev TEXT, predicate TEXT NOT NULL, log_index INTEGER NOT NULL UNIQUE, receipt_json TEXT NOT NULL,
      envelope_json TEXT NOT NULL, session_id TEXT, chunk_name TEXT, blob_sha256 TEXT, PRIMARY KEY (signer_id, seq))`);
    old
      .prepare(
        "INSERT INTO receiver_records (signer_id, seq, payload_sha256, predicate, log_index, receipt_json, envelope_json) VALUES ('old', 1, ?, 'heartbeat', 0, '{}', '{}')",
      )
      .run('b'.repeat(64));
    old.close();
    const state = new EmbeddedReceiverState(path);
    open.push(state);
    expect(await state.record('old', 1)).toMatchObject({
      logIndex: 0,
      receiptLogIndex: null,
      checkpoint: null,
      inclusionProof: null,
    });
  });
});
