import { createPublicKey } from 'node:crypto';
import { join } from 'node:path';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { openNote, parseCheckpoint } from '../../../agent/records/checkpoint.ts';
import { sha256Hex } from '../../../agent/records/jcs.ts';
import { leafHash, treeRoot, verifyInclusion } from '../../../agent/records/merkle.ts';
import type { IngestResult, RecordIngest } from '../../../receiver/ingest.ts';
import { admissionLockKey, type PgReceiverState } from '../../../receiver/state/pg/pg-state.ts';
import type { RecordRow } from '../../../receiver/state.ts';
import { postgresSkipReason } from '../../support/engines/postgres.ts';
import { pgStoreSuite } from '../../support/pg-store-suite.ts';
import { waitFor } from '../../support/wait.ts';
import { FakeDevice } from '../sync/fake-device.ts';

/** One-time enrolment tokens, one per device. */
const tokens = Array.from({ length: 16 }, (_, i) => `batch-enrol-token-${i}-0123456789`);

interface ReceiptBody {
  subject: Array<{ name: string }>;
  predicate: {
    chain: { seq: number; prev: string | null };
    record: { signer: string; seq: number };
    log: { index: number; size: number; root: string };
  };
}

function receiptOf(json: string): { body: ReceiptBody; sha: string } {
  const payload = Buffer.from((JSON.parse(json) as { payload: string }).payload, 'base64');
  return { body: JSON.parse(payload.toString('utf8')) as ReceiptBody, sha: sha256Hex(payload) };
}

/** The same record with another record's (valid) signature: its own no longer verifies. */
function withForeignSignature(record: Uint8Array, other: Uint8Array): Uint8Array {
  const env = JSON.parse(Buffer.from(record).toString('utf8')) as { signatures: Array<{ sig: string }> };
  const foreign = JSON.parse(Buffer.from(other).toString('utf8')) as { signatures: Array<{ sig: string }> };
  env.signatures = foreign.signatures;
  return Buffer.from(`${JSON.stringify(env)}\n`, 'utf8');
}

describe.skipIf(postgresSkipReason !== undefined)('admission in batches on PostgreSQL', () => {
  const suite = pgStoreSuite('rigcap-batch-');

  async function receiver(url: string): Promise<{ state: PgReceiverState; ingest: RecordIngest }> {
    const state = await suite.state(url);
    return { state, ingest: await suite.ingestOn(state, tokens) };
  }

  function device(id: string): FakeDevice {
    return new FakeDevice({ deviceId: id, spoolDir: join(suite.root, `spool-${id}`) });
  }

  /** Every row's receipt is in the log right where the row says, and proves its record in its checkpoint. */
  function checkProofs(rows: readonly RecordRow[], leaves: readonly Buffer[]): void {
    const origin = `rigcap.store/${suite.key.storeId}`;
    const publicKey = createPublicKey(suite.key.publicKeyPem);
    for (const row of rows) {
      expect(leaves[row.logIndex]).toEqual(leafHash(Buffer.from(row.envelopeJson, 'utf8')));
      expect(leaves[row.receiptLogIndex ?? -1]).toEqual(leafHash(Buffer.from(row.receiptJson, 'utf8')));
      const cp = parseCheckpoint(openNote(row.checkpoint ?? '', { name: origin, publicKey }) ?? '');
      const { log } = receiptOf(row.receiptJson).body.predicate;
      expect(cp?.size).toBe(log.size);
      expect(cp?.root.toString('hex')).toBe(log.root);
      expect(treeRoot(leaves, log.size).toString('hex')).toBe(log.root);
      const proof = (row.inclusionProof ?? []).map((h) => Buffer.from(h, 'base64'));
      const leaf = leafHash(Buffer.from(row.envelopeJson, 'utf8'));
      expect(
        verifyInclusion({
          leaf,
          index: row.logIndex,
          size: log.size,
          proof,
          root: cp?.root ?? Buffer.alloc(0),
        }),
      ).toBe(true);
    }
  }

  it('many devices at once through two receivers: one log, every record once, batches of more than one', async () => {
    const url = await suite.engine.createDatabase();
    const [a, b] = [await receiver(url), await receiver(url)];
    const devices = Array.from({ length: 12 }, (_, i) => device(`rig-many-${i}`));
    const via = (i: number): RecordIngest => (i % 2 === 0 ? a.ingest : b.ingest);
    await Promise.all(devices.map((d, i) => via(i).submit(d.enrol(), { enrollToken: tokens[i] ?? '' })));
    const records = devices.map((d) => Array.from({ length: 6 }, () => d.openSession()));
    // Every record goes to its device's receiver, and every third one to the other receiver too.
    const sends: Array<Promise<IngestResult>> = [];
    records.forEach((list, i) =>
      list.forEach((r, k) => {
        sends.push(via(i).submit(r));
        if (k % 3 === 0) sends.push(via(i + 1).submit(r));
      }),
    );
    const results = await Promise.all(sends);
    expect(results.filter((r) => r.status === 201)).toHaveLength(devices.length * 6);

    const rows = await a.state.allRecords();
    expect(rows).toHaveLength(devices.length * 7);
    const leaves = await a.state.leavesFrom(0);
    expect(leaves).toHaveLength(1 + 2 * rows.length);
    expect(new Set(leaves.map((l) => l.toString('hex'))).size).toBe(leaves.length);
    checkProofs(rows, leaves);

    // The store's chain: one receipt per record, each linking to the one before.
    const chain = rows
      .map((r) => receiptOf(r.receiptJson))
      .sort((x, y) => x.body.predicate.chain.seq - y.body.predicate.chain.seq);
    expect(chain.map((c) => c.body.predicate.chain.seq)).toEqual(rows.map((_, i) => i + 2));
    for (let i = 1; i < chain.length; i++)
      expect(chain[i]?.body.predicate.chain.prev).toBe(chain[i - 1]?.sha);

    // Batches: receipts naming one tree head were admitted together; within one, a device's records
    // are in chain order.
    const batches = new Map<number, RecordRow[]>();
    for (const row of rows) {
      const size = receiptOf(row.receiptJson).body.predicate.log.size;
      batches.set(size, [...(batches.get(size) ?? []), row]);
    }
    expect(Math.max(...[...batches.values()].map((b) => b.length))).toBeGreaterThan(1);
    for (const batch of batches.values()) {
      const byIndex = [...batch].sort((x, y) => x.logIndex - y.logIndex);
      for (const d of devices) {
        const seqs = byIndex.filter((r) => r.signerId === d.deviceId).map((r) => r.seq);
        expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
      }
    }
    await Promise.all([a.ingest.refreshLog(), b.ingest.refreshLog()]);
    expect(a.ingest.checkpoint()).toBe(b.ingest.checkpoint());
  }, 120_000);

  it('a record refused in a batch leaves the rest of the batch admitted', async () => {
    const url = await suite.engine.createDatabase();
    const { state, ingest } = await receiver(url);
    const [one, two] = [device('rig-ok'), device('rig-bad')];
    await ingest.submit(one.enrol(), { enrollToken: tokens[14] ?? '' });
    await ingest.submit(two.enrol(), { enrollToken: tokens[15] ?? '' });
    // A clone of rig-ok (same key, following its head) will sign another record at one seq: a fork.
    const clone = new FakeDevice({ deviceId: 'rig-ok', spoolDir: join(suite.root, 'spool-clone') });
    clone.signer = one.signer;
    const follow = (): void => clone.chain.advance(one.chain.head ?? { seq: 0, payloadSha256: '' });
    follow();
    const goods = Array.from({ length: 5 }, () => {
      const r = one.openSession();
      follow();
      return r;
    });
    const [s2, s3, s4] = [two.openSession(), two.openSession(), two.openSession()];
    const tampered = withForeignSignature(s3, s2);
    const [mine, theirs] = [one.openSession(), clone.openSession()];

    // Hold the admission lock so that everything below waits for the same batch.
    const holder = new pg.Client({ connectionString: url });
    await holder.connect();
    suite.open.push({ close: () => holder.end() });
    await holder.query('SELECT pg_advisory_lock($1)', [admissionLockKey]);
    const blocked = ingest.submit(goods[0] ?? new Uint8Array());
    await waitFor(
      async () =>
        (
          await holder.query<{ n: string }>(
            "SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted",
          )
        ).rows[0]?.n === '1',
      { timeoutMs: 30_000, what: 'the first batch to wait for the admission lock' },
    );
    const batch = [...goods.slice(1), goods[1] ?? new Uint8Array(), s2, tampered, s4, mine, theirs];
    const settled = Promise.allSettled(batch.map((r) => ingest.submit(r)));
    await waitFor(() => ingest.waiting === batch.length, { timeoutMs: 30_000, what: 'the batch to queue' });
    await holder.query('SELECT pg_advisory_unlock($1)', [admissionLockKey]);
    await blocked;
    const out = await settled;

    const value = (i: number): IngestResult => {
      const s = out[i];
      if (s?.status !== 'fulfilled') throw new Error(`item ${i} was refused: ${String(s?.reason)}`);
      return s.value;
    };
    const reason = (i: number): unknown => (out[i] as PromiseRejectedResult).reason;
    // goods[1..4], the duplicate of goods[1], s2, s4 and one of the fork pair are admitted in one batch.
    for (const i of [0, 1, 2, 3, 5, 7]) expect(value(i).status).toBe(201);
    expect(value(4)).toMatchObject({ status: 200, receipt: value(0).receipt, logIndex: value(0).logIndex });
    expect(reason(6)).toMatchObject({ code: 'RIGCAP_RECEIVER_BAD_SIGNATURE' });
    expect(value(8).status).toBe(201);
    expect(reason(9)).toMatchObject({ code: 'RIGCAP_RECEIVER_CHAIN_FORK' });
    const sizes = new Set(
      [0, 1, 2, 3, 5, 7, 8].map((i) => receiptOf(JSON.stringify(value(i).receipt)).body.predicate.log.size),
    );
    expect(sizes.size).toBe(1);

    // The genuine seq 3 arrives later and confirms both links that were pending around it.
    const late = await ingest.submit(s3);
    expect(late.status).toBe(201);
    const names = receiptOf(JSON.stringify(late.receipt)).body.subject.map((s) => s.name);
    expect(names).toEqual(['record-rig-bad-3', 'record-rig-bad-2', 'record-rig-bad-4']);
    const rows = await state.allRecords();
    checkProofs(rows, await state.leavesFrom(0));
    expect(rows.map((r) => `${r.signerId}#${r.seq}`).sort()).toEqual(
      [
        ...Array.from({ length: 7 }, (_, i) => `rig-ok#${i + 1}`),
        ...[1, 2, 3, 4].map((s) => `rig-bad#${s}`),
      ].sort(),
    );
  }, 120_000);
});
