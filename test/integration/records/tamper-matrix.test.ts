// The tamper matrix: each way of altering a spool is caught with its own stable code, and the
// untouched copy still verifies.
import { cp, mkdtemp, readFile, rename, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../agent/log.ts';
import { FsSource, RecordSealer } from '../../../agent/keys/index.ts';
import {
  decodeRecord,
  generateKeyPair,
  inTotoPayloadType,
  nodeSigner,
  preAuthEncoding,
  serializeEnvelope,
  toBase64,
  verifyTree,
  type VerifyReport,
} from '../../../agent/records/index.ts';
import { openSpool, standardSpool, steppingClock, writeChunk, type FixtureSpool } from './spool-fixture.ts';

let base: FixtureSpool;
let other: FixtureSpool;

beforeAll(async () => {
  base = await standardSpool({ deviceId: 'rig-a' });
  other = await standardSpool({ deviceId: 'rig-b' });
  await base.sealer.close();
  await other.sealer.close();
});

/** A fresh copy of the base spool (and its keys) to tamper with. */
async function copy(): Promise<{ root: string; keys: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'rigcap-tamper-'));
  await cp(base.rootDir, join(dir, 'agent'), { recursive: true });
  await cp(base.keysDir, join(dir, 'secrets'), { recursive: true });
  return { root: join(dir, 'agent'), keys: join(dir, 'secrets') };
}

const rec = (seq: number): string => `records/rig-a/${String(seq).padStart(12, '0')}.dsse.json`;
const verify = (root: string, trustedKeys?: Uint8Array[]): Promise<VerifyReport> =>
  verifyTree(new FsSource(root), trustedKeys === undefined ? {} : { trustedKeys });

function expectCode(report: VerifyReport, code: string, file?: string): void {
  expect(report.ok).toBe(false);
  const hit = report.failures.find((f) => f.code === code && (file === undefined || f.file === file));
  expect(hit, `${code} ${file ?? ''} in ${JSON.stringify(report.failures, null, 1)}`).toBeDefined();
}

/** Re-encodes a record's statement after `edit`, signing with `sign` (or keeping the old signature). */
async function editRecord(
  root: string,
  seq: number,
  edit: (statement: Record<string, any>) => void,
  sign?: ReturnType<typeof nodeSigner>,
): Promise<Uint8Array> {
  const bytes = new Uint8Array(await readFile(join(root, rec(seq))));
  const decoded = decodeRecord(bytes);
  if (!decoded.ok) throw new Error(decoded.reason);
  const statement = JSON.parse(Buffer.from(decoded.record.payload).toString('utf8')) as Record<string, any>;
  edit(statement);
  const { canonicalBytes } = await import('../../../agent/records/index.ts');
  const payload = canonicalBytes(statement);
  const signatures =
    sign === undefined
      ? decoded.record.envelope.signatures
      : [{ keyid: sign.keyId, sig: toBase64(sign.sign(preAuthEncoding(inTotoPayloadType, payload))) }];
  const out = serializeEnvelope({ payloadType: inTotoPayloadType, payload: toBase64(payload), signatures });
  await writeFile(join(root, rec(seq)), out);
  return out;
}

describe('tamper matrix', () => {
  it('the untouched spool verifies, with given and with pinned trust', async () => {
    const given = await verify(base.rootDir);
    expect(given).toMatchObject({
      ok: true,
      failures: [],
      trust: 'given',
      checked: { chunks: 5, records: 10, sessions: 2 },
    });
    const pem = await readFile(join(base.rootDir, 'keys/rig-a.pub.pem'), 'utf8');
    const { spkiBlocksOfPem } = await import('../../../agent/records/index.ts');
    expect(await verify(base.rootDir, spkiBlocksOfPem(pem))).toMatchObject({ ok: true, trust: 'pinned' });
  });

  it('byte flip in a chunk → VERIFY_DIGEST_MISMATCH', async () => {
    const { root } = await copy();
    const path = join(root, 'sessions/s1/chunk-000002.mcap');
    const bytes = await readFile(path);
    bytes[100] = (bytes[100] ?? 0) ^ 0x01;
    await writeFile(path, bytes);
    expectCode(await verify(root), 'VERIFY_DIGEST_MISMATCH', 'sessions/s1/chunk-000002.mcap');
  });

  it('truncated chunk → VERIFY_DIGEST_MISMATCH', async () => {
    const { root } = await copy();
    await truncate(join(root, 'sessions/s2/chunk-000001.mcap'), 50);
    expectCode(await verify(root), 'VERIFY_DIGEST_MISMATCH', 'sessions/s2/chunk-000001.mcap');
  });

  it('field edit in a record (signature kept) → VERIFY_BAD_SIGNATURE', async () => {
    const { root } = await copy();
    const edited = await editRecord(root, 4, (s) => {
      s['predicate']['streams'][0]['count'] = 999;
    });
    await writeFile(join(root, 'sessions/s1/chunk-000002.mcap.dsse.json'), edited);
    expectCode(await verify(root), 'VERIFY_BAD_SIGNATURE', rec(4));
  });

  it('re-signed with another key → VERIFY_UNKNOWN_KEY', async () => {
    const { root } = await copy();
    const intruder = nodeSigner(generateKeyPair().privateKeyPem);
    const edited = await editRecord(
      root,
      4,
      (s) => {
        s['predicate']['policy']['retentionDays'] = 3650;
        s['predicate']['chain']['keyId'] = intruder.keyId;
      },
      intruder,
    );
    await writeFile(join(root, 'sessions/s1/chunk-000002.mcap.dsse.json'), edited);
    expectCode(await verify(root), 'VERIFY_UNKNOWN_KEY', rec(4));
  });

  it('another key signing under the device keyid → VERIFY_BAD_SIGNATURE; claiming a foreign keyid → VERIFY_KEYID_MISMATCH', async () => {
    const { root } = await copy();
    const intruder = nodeSigner(generateKeyPair().privateKeyPem);
    const deviceKeyId = JSON.parse(
      Buffer.from(JSON.parse(await readFile(join(root, rec(1)), 'utf8')).payload, 'base64').toString(),
    ).predicate.keyId as string;
    await editRecord(root, 10, (s) => void s, {
      keyId: deviceKeyId,
      publicKeySpki: intruder.publicKeySpki,
      sign: intruder.sign,
    });
    expectCode(await verify(root), 'VERIFY_BAD_SIGNATURE', rec(10));
    const device = nodeSigner(await readFile(join(base.keysDir, 'rig-a.key.pem'), 'utf8'));
    await editRecord(root, 10, (s) => void s, {
      keyId: 'f'.repeat(64),
      publicKeySpki: device.publicKeySpki,
      sign: device.sign,
    });
    expectCode(await verify(root), 'VERIFY_KEYID_MISMATCH', rec(10));
  });

  it('swapped sidecars → VERIFY_SIDECAR_MISMATCH on both', async () => {
    const { root } = await copy();
    const a = join(root, 'sessions/s1/chunk-000001.mcap.dsse.json');
    const b = join(root, 'sessions/s1/chunk-000002.mcap.dsse.json');
    const [ba, bb] = [await readFile(a), await readFile(b)];
    await writeFile(a, bb);
    await writeFile(b, ba);
    const report = await verify(root);
    expectCode(report, 'VERIFY_SIDECAR_MISMATCH', 'sessions/s1/chunk-000001.mcap.dsse.json');
    expectCode(report, 'VERIFY_SIDECAR_MISMATCH', 'sessions/s1/chunk-000002.mcap.dsse.json');
  });

  it('deleted middle chunk → VERIFY_CHUNK_MISSING; with its record too → VERIFY_CHAIN_GAP and VERIFY_SESSION_ROOT', async () => {
    const { root } = await copy();
    await rm(join(root, 'sessions/s1/chunk-000002.mcap'));
    await rm(join(root, 'sessions/s1/chunk-000002.mcap.dsse.json'));
    expectCode(await verify(root), 'VERIFY_CHUNK_MISSING', 'sessions/s1/chunk-000002.mcap');
    await rm(join(root, rec(4)));
    const report = await verify(root);
    expectCode(report, 'VERIFY_CHAIN_GAP', rec(4));
    expectCode(report, 'VERIFY_SESSION_ROOT', 'sessions/s1/session.dsse.json');
  });

  it('deleted tail of the chain → VERIFY_TAIL (the sidecar names a record past the end)', async () => {
    const { root } = await copy();
    await rm(join(root, rec(10)));
    await rm(join(root, rec(9)));
    expectCode(await verify(root), 'VERIFY_TAIL', 'sessions/s2/chunk-000002.mcap.dsse.json');
  });

  it("replay of another device's record → VERIFY_SIGNER_MISMATCH / VERIFY_UNKNOWN_KEY / VERIFY_CHAIN_FORK", async () => {
    const { root } = await copy();
    await cp(join(other.rootDir, 'records/rig-b/000000000004.dsse.json'), join(root, rec(4)));
    await cp(
      join(other.rootDir, 'sessions/s1/chunk-000002.mcap'),
      join(root, 'sessions/s1/chunk-000002.mcap'),
    );
    await cp(
      join(other.rootDir, 'sessions/s1/chunk-000002.mcap.dsse.json'),
      join(root, 'sessions/s1/chunk-000002.mcap.dsse.json'),
    );
    const report = await verify(root);
    expectCode(report, 'VERIFY_SIGNER_MISMATCH', rec(4));
    expectCode(report, 'VERIFY_UNKNOWN_KEY', rec(4));
    expectCode(report, 'VERIFY_CHAIN_FORK', rec(5));
  });

  it('a whole other device merged in fails against pinned trust → VERIFY_UNKNOWN_KEY', async () => {
    const { root } = await copy();
    await cp(join(other.rootDir, 'records/rig-b'), join(root, 'records/rig-b'), { recursive: true });
    await cp(join(other.rootDir, 'keys/rig-b.pub.pem'), join(root, 'keys/rig-b.pub.pem'));
    const { spkiBlocksOfPem } = await import('../../../agent/records/index.ts');
    const trust = spkiBlocksOfPem(await readFile(join(root, 'keys/rig-a.pub.pem'), 'utf8'));
    expectCode(await verify(root, trust), 'VERIFY_UNKNOWN_KEY', 'records/rig-b/000000000001.dsse.json');
  });

  it('records signed by a key revoked from an earlier seq → VERIFY_KEY_REVOKED; rotation alone stays valid', async () => {
    const { root, keys } = await copy();
    const sealer = await RecordSealer.open({
      rootDir: root,
      keysDir: keys,
      signerId: 'rig-a',
      log: silentLogger(),
      keyPolicy: 'require-existing',
      bootId: 't',
      clock: steppingClock(),
    });
    const oldKeyId = sealer.keyId;
    await sealer.rotateKey();
    await writeChunk({ rootDir: root, keysDir: keys, sealer }, { sessionId: 's2', chunkIndex: 3, seed: 13 });
    expect((await verify(root)).ok).toBe(true);
    await sealer.revokeKey({ keyId: oldKeyId, invalidFromSeq: 8, reason: 'key copied off the rig' });
    await sealer.close();
    const report = await verify(root);
    expectCode(report, 'VERIFY_KEY_REVOKED', rec(8));
    expectCode(report, 'VERIFY_KEY_REVOKED', rec(11));
    expect(report.failures.some((f) => f.file === rec(7) || f.file === rec(12))).toBe(false);
  });

  it('renamed chunk → VERIFY_SUBJECT_NAME (and the signed name is missing)', async () => {
    const { root } = await copy();
    await rename(join(root, 'sessions/s1/chunk-000003.mcap'), join(root, 'sessions/s1/chunk-000007.mcap'));
    await rename(
      join(root, 'sessions/s1/chunk-000003.mcap.dsse.json'),
      join(root, 'sessions/s1/chunk-000007.mcap.dsse.json'),
    );
    const report = await verify(root);
    expectCode(report, 'VERIFY_SUBJECT_NAME', 'sessions/s1/chunk-000007.mcap');
    expectCode(report, 'VERIFY_CHUNK_MISSING', 'sessions/s1/chunk-000003.mcap');
  });

  it('a calibration attachment that differs from the record → VERIFY_CALIBRATION_MISMATCH', async () => {
    const { root, keys } = await copy();
    const sealer = await RecordSealer.open({
      rootDir: root,
      keysDir: keys,
      signerId: 'rig-a',
      log: silentLogger(),
      keyPolicy: 'require-existing',
      bootId: 't',
      clock: steppingClock(),
    });
    await writeChunk(
      { rootDir: root, keysDir: keys, sealer },
      { sessionId: 's2', chunkIndex: 3, seed: 13, calibration: 'camera_matrix: {data: [1]}\n' },
    );
    await sealer.close();
    expectCode(await verify(root), 'VERIFY_CALIBRATION_MISMATCH', 'sessions/s2/chunk-000003.mcap');
  });

  it('an earlier session left open → VERIFY_SESSION_UNCLOSED; the current open session is fine', async () => {
    const { root, keys } = await copy();
    expect((await verify(root)).ok).toBe(true);
    const sealer = await RecordSealer.open({
      rootDir: root,
      keysDir: keys,
      signerId: 'rig-a',
      log: silentLogger(),
      keyPolicy: 'require-existing',
      bootId: 't',
      clock: steppingClock(),
    });
    await sealer.openSession({ sessionId: 's3', rigId: 'rig-a', startNs: 30n });
    await sealer.close();
    expectCode(await verify(root), 'VERIFY_SESSION_UNCLOSED', 'sessions/s2/session.dsse.json');
  });

  it('a record file renamed to another seq → VERIFY_RECORD_NAME / VERIFY_CHAIN_GAP', async () => {
    const { root } = await copy();
    await rename(join(root, rec(10)), join(root, rec(12)));
    const report = await verify(root);
    expectCode(report, 'VERIFY_RECORD_NAME', rec(12));
    expectCode(report, 'VERIFY_CHAIN_GAP', rec(10));
  });
});

describe('record store recovery', () => {
  it('a restart continues the chain without seq reuse and rewrites a sidecar lost in a crash', async () => {
    const spool = await openSpool({ deviceId: 'rig-c' });
    await spool.sealer.openSession({ sessionId: 'r1', rigId: 'rig-c', startNs: 1n });
    const chunk = await writeChunk(spool, { sessionId: 'r1', chunkIndex: 1, seed: 1 });
    await spool.sealer.close();
    // Crash between the chain record and its sidecar.
    await rm(`${chunk}.dsse.json`);
    const again = await RecordSealer.open({
      rootDir: spool.rootDir,
      keysDir: spool.keysDir,
      signerId: 'rig-c',
      log: silentLogger(),
      keyPolicy: 'require-existing',
      bootId: 'boot-2',
      clock: steppingClock(),
    });
    expect(again.headSeq).toBe(3);
    expect(again.openSessions).toEqual(['r1']);
    await writeChunk({ ...spool, sealer: again }, { sessionId: 'r1', chunkIndex: 2, seed: 2 });
    const close = await again.closeSession({ sessionId: 'r1', endNs: 9n, reason: 'stop' });
    expect(close.seq).toBe(5);
    expect(await verify(spool.rootDir)).toMatchObject({ ok: true, checked: { chunks: 2, records: 5 } });
  });
});

describe('retention', () => {
  it('a chunk deleted with a signed retention-action record still verifies; deleted without one it does not', async () => {
    const { root, keys } = await copy();
    const { createHash } = await import('node:crypto');
    const name = 'chunk-000002.mcap';
    const path = join(root, 'sessions/s1', name);
    const sha256 = createHash('sha256')
      .update(await readFile(path))
      .digest('hex');
    const sealer = await RecordSealer.open({
      rootDir: root,
      keysDir: keys,
      signerId: 'rig-a',
      log: silentLogger(),
      keyPolicy: 'require-existing',
      bootId: 't',
      clock: steppingClock(),
    });
    await sealer.retention({
      deleted: [{ session: 's1', name, sha256 }],
      reason: 'synced and older than 30 days',
    });
    await sealer.close();
    await rm(path);
    const report = await verify(root);
    expect(report.failures).toEqual([]);
    expect(report.ok).toBe(true);

    await rm(join(root, 'sessions/s1/chunk-000003.mcap'));
    expectCode(await verify(root), 'VERIFY_CHUNK_MISSING', 'sessions/s1/chunk-000003.mcap');
  });
});
