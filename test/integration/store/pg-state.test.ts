import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { sha256Hex } from '../../../agent/records/jcs.ts';
import { leafHash, treeRoot } from '../../../agent/records/merkle.ts';
import type { RecordIngest } from '../../../receiver/ingest.ts';
import { appliedVersions, loadMigrations, migrate } from '../../../receiver/state/pg/migrate.ts';
import type { PgReceiverState } from '../../../receiver/state/pg/pg-state.ts';
import { postgresSkipReason } from '../../support/engines/postgres.ts';
import { pgStoreSuite } from '../../support/pg-store-suite.ts';
import { FakeDevice } from '../sync/fake-device.ts';

const token = 'pg-enrol-token-0123456789';

describe.skipIf(postgresSkipReason !== undefined)('receiver state on PostgreSQL', () => {
  const suite = pgStoreSuite('rigcap-pgstate-');

  async function pool(url: string): Promise<pg.Pool> {
    const p = new pg.Pool({ connectionString: url, max: 2 });
    // The restart test cuts this pool's idle connections; the pool drops them and reconnects.
    p.on('error', (err: Error & { code?: string }) => expect(err.code).toBe('57P01'));
    suite.open.push({ close: () => p.end() });
    return p;
  }

  const state = (url: string): Promise<PgReceiverState> => suite.state(url);
  const ingestOn = (s: PgReceiverState): Promise<RecordIngest> => suite.ingestOn(s, [token]);

  it('migrates an empty database to the newest schema, and a second run applies nothing', async () => {
    const url = await suite.engine.createDatabase();
    const db = await pool(url);
    const shipped = (await loadMigrations()).map((m) => m.version);
    expect(shipped.slice(0, 2)).toEqual([1, 2]);
    expect(await migrate(db)).toEqual(shipped);
    expect(await appliedVersions(db)).toEqual(shipped);
    expect(await migrate(db)).toEqual([]);
    const cols = await db.query<{ column_name: string }>(
      "SELECT column_name FROM information_schema.columns WHERE table_name = 'receiver_records'",
    );
    expect(cols.rows.map((r) => r.column_name)).toEqual(
      expect.arrayContaining(['log_index', 'receipt_log_index', 'checkpoint', 'inclusion_proof']),
    );
  });

  it('receivers starting together on one empty database migrate it once', async () => {
    const url = await suite.engine.createDatabase();
    const [a, b, c] = await Promise.all([
      migrate(await pool(url)),
      migrate(await pool(url)),
      migrate(await pool(url)),
    ]);
    const all = [...(a ?? []), ...(b ?? []), ...(c ?? [])].sort((x, y) => x - y);
    expect(all).toEqual((await loadMigrations()).map((m) => m.version));
  });

  it('upgrades a database at the previous schema version and keeps its records', async () => {
    const url = await suite.engine.createDatabase();
    const db = await pool(url);
    expect(await migrate(db, { upTo: 1 })).toEqual([1]);
    const leaf = leafHash(Buffer.from('old entry'));
    await db.query('INSERT INTO receiver_log (idx, leaf_hash) VALUES (0, $1)', [leaf]);
    await db.query(
      `INSERT INTO receiver_records (signer_id, seq, payload_sha256, prev, predicate, log_index, receipt_json, envelope_json)
       VALUES ('old-rig', 1, $1, NULL, 'heartbeat', 0, '{}', '{}')`,
      ['a'.repeat(64)],
    );
    const s = await state(url);
    expect(await appliedVersions(db)).toEqual((await loadMigrations()).map((m) => m.version));
    const old = await s.record('old-rig', 1);
    expect(old).toMatchObject({ logIndex: 0, receiptLogIndex: null, checkpoint: null, inclusionProof: null });
    expect(await s.leavesFrom(0)).toEqual([leaf]);
  });

  it('applies migrations another component adds (numbered 100 and up) after the core ones', async () => {
    const url = await suite.engine.createDatabase();
    const dir = join(suite.root, 'extra-migrations');
    await mkdir(dir, { recursive: true });
    for (const m of await loadMigrations())
      await writeFile(join(dir, `${String(m.version).padStart(3, '0')}_${m.name}.sql`), m.sql);
    await writeFile(join(dir, '100_extra_table.sql'), 'CREATE TABLE extra_thing (id INT PRIMARY KEY);');
    const db = await pool(url);
    const applied = await migrate(db, { migrations: await loadMigrations(dir) });
    expect(applied.at(-1)).toBe(100);
    expect((await db.query("SELECT to_regclass('extra_thing')::text AS t")).rows[0]).toEqual({
      t: 'extra_thing',
    });
  });

  it('two receivers on one database racing one device never fork its chain or log a record twice', async () => {
    const url = await suite.engine.createDatabase();
    const [sa, sb] = [await state(url), await state(url)];
    const [a, b] = [await ingestOn(sa), await ingestOn(sb)];
    const dev = new FakeDevice({ deviceId: 'rig-race', spoolDir: join(suite.root, 'spool-race') });
    const enrol = dev.enrol();
    const records = Array.from({ length: 24 }, () => dev.openSession());
    await Promise.all([a.submit(enrol, { enrollToken: token }), b.submit(enrol, { enrollToken: token })]);
    // Both receivers get every record at once, in opposite orders.
    const results = await Promise.all([
      ...records.map((r) => a.submit(r)),
      ...[...records].reverse().map((r) => b.submit(r)),
    ]);
    expect(results.filter((r) => r.status === 201)).toHaveLength(records.length);
    const rows = await sa.allRecords();
    expect(rows.map((r) => r.seq).sort((x, y) => x - y)).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
    // One store enrol entry, then each record followed by its receipt: no entry twice, no gap.
    const leaves = await sa.leavesFrom(0);
    expect(leaves).toHaveLength(1 + 2 * rows.length);
    for (const row of rows) {
      expect(leaves[row.logIndex]).toEqual(leafHash(Buffer.from(row.envelopeJson, 'utf8')));
      expect(leaves[row.receiptLogIndex ?? -1]).toEqual(leafHash(Buffer.from(row.receiptJson, 'utf8')));
    }
    expect(new Set(leaves.map((l) => l.toString('hex'))).size).toBe(leaves.length);
    // The store's own chain advanced by one per receipt, each linking to the one before.
    const storeChain = rows
      .map((r) => {
        const receipt = JSON.parse(r.receiptJson) as { payload: string };
        const payload = Buffer.from(receipt.payload, 'base64');
        const chain = (
          JSON.parse(payload.toString('utf8')) as { predicate: { chain: { seq: number; prev: string } } }
        ).predicate.chain;
        return { seq: chain.seq, prev: chain.prev, sha: sha256Hex(payload) };
      })
      .sort((x, y) => x.seq - y.seq);
    expect(storeChain.map((c) => c.seq)).toEqual(Array.from({ length: rows.length }, (_, i) => i + 2));
    for (let i = 1; i < storeChain.length; i++) expect(storeChain[i]?.prev).toBe(storeChain[i - 1]?.sha);
    // Both receivers see the same log, and a receipt's checkpoint names the tree it was signed in.
    await Promise.all([a.refreshLog(), b.refreshLog()]);
    expect(a.checkpoint()).toBe(b.checkpoint());
    expect(a.checkpoint()).toContain(`\n${leaves.length}\n${treeRoot(leaves).toString('base64')}\n`);
  }, 120_000);

  it('two receivers given two different records for one seq at once accept exactly one', async () => {
    const url = await suite.engine.createDatabase();
    const [a, b] = [await ingestOn(await state(url)), await ingestOn(await state(url))];
    const dev = new FakeDevice({ deviceId: 'rig-fork', spoolDir: join(suite.root, 'spool-fork') });
    await a.submit(dev.enrol(), { enrollToken: token });
    // A clone of the device (same key, same head) signs another record at the same seq.
    const clone = new FakeDevice({ deviceId: 'rig-fork', spoolDir: join(suite.root, 'spool-clone') });
    clone.signer = dev.signer;
    clone.publicKeyPem = dev.publicKeyPem;
    const head = dev.chain.head;
    if (head === null) throw new Error('no head after enrol');
    clone.chain.advance(head);
    const first = dev.openSession();
    const second = clone.openSession();
    expect(Buffer.from(first).equals(Buffer.from(second))).toBe(false);
    const settled = await Promise.allSettled([a.submit(first), b.submit(second)]);
    expect(settled.filter((s) => s.status === 'fulfilled')).toHaveLength(1);
    const refused = settled.find((s) => s.status === 'rejected');
    expect((refused as PromiseRejectedResult).reason).toMatchObject({ code: 'RIGCAP_RECEIVER_CHAIN_FORK' });
  }, 60_000);

  it('one enrolment token enrols one device, whichever receiver sees it first', async () => {
    const url = await suite.engine.createDatabase();
    const [a, b] = [await ingestOn(await state(url)), await ingestOn(await state(url))];
    const one = new FakeDevice({ deviceId: 'rig-one', spoolDir: join(suite.root, 'spool-one') });
    const two = new FakeDevice({ deviceId: 'rig-two', spoolDir: join(suite.root, 'spool-two') });
    const settled = await Promise.allSettled([
      a.submit(one.enrol(), { enrollToken: token }),
      b.submit(two.enrol(), { enrollToken: token }),
    ]);
    expect(settled.filter((s) => s.status === 'fulfilled')).toHaveLength(1);
    const refused = settled.find((s) => s.status === 'rejected');
    expect((refused as PromiseRejectedResult).reason).toMatchObject({
      code: 'RIGCAP_RECEIVER_ENROLL_REFUSED',
    });
  }, 60_000);

  it('a receiver opened again on the database rebuilds the same log', async () => {
    const url = await suite.engine.createDatabase();
    const first = await ingestOn(await state(url));
    const dev = new FakeDevice({ deviceId: 'rig-again', spoolDir: join(suite.root, 'spool-again') });
    await first.submit(dev.enrol(), { enrollToken: token });
    const open = dev.openSession();
    const answer = await first.submit(open);
    const again = await ingestOn(await state(url));
    expect(again.checkpoint()).toBe(first.checkpoint());
    const held = await again.submit(open);
    expect(held.status).toBe(200);
    expect(held.receipt).toEqual(answer.receipt);
    expect(held.logIndex).toBe(answer.logIndex);
  }, 60_000);
  it('keeps admitting after PostgreSQL restarts, with the log it had', async () => {
    const url = await suite.engine.createDatabase();
    const s = await state(url);
    const ingest = await ingestOn(s);
    const dev = new FakeDevice({ deviceId: 'rig-restart', spoolDir: join(suite.root, 'spool-restart') });
    await ingest.submit(dev.enrol(), { enrollToken: token });
    await suite.engine.restart();
    const open = dev.openSession();
    // A pooled connection the restart cut may fail one request (HTTP 500, the agent retries).
    let answer: Awaited<ReturnType<RecordIngest['submit']>> | undefined;
    for (let attempt = 0; answer === undefined && attempt < 3; attempt++) {
      answer = await ingest.submit(open).catch(() => undefined);
    }
    expect(answer?.status).toBe(201);
    const leaves = await s.leavesFrom(0);
    expect(leaves).toHaveLength(5);
    expect(ingest.checkpoint()).toContain(`\n5\n${treeRoot(leaves).toString('base64')}\n`);
  }, 120_000);
});
