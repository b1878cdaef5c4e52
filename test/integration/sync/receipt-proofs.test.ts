// Every receipt the agent keeps carries the store's signed checkpoint and the record's inclusion
// proof in it, so the device proves its record is in the store's log offline: with the store gone,
// from the catalog and the spool alone, given only the store's public key.
import { createPublicKey } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Catalog } from '../../../agent/catalog/catalog.ts';
import { silentLogger } from '../../../agent/log.ts';
import type { LogProof } from '../../../agent/records/bundle-proofs.ts';
import { openNote, parseCheckpoint } from '../../../agent/records/checkpoint.ts';
import { leafHash, verifyInclusion } from '../../../agent/records/merkle.ts';
import { startReceiver } from '../../../receiver/server.ts';
import { FakeDevice } from './fake-device.ts';
import { syncSpool } from './spool-sync.ts';

const root = mkdtempSync(join(tmpdir(), 'rigcap-receipt-proofs-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Whether `proof` places `envelopeBytes` in a checkpoint signed by the store key. */
function includedOffline(proof: LogProof, envelopeBytes: Uint8Array, storeKeyPem: string): boolean {
  const origin = `rigcap.store/${proof.storeId}`;
  const body = openNote(proof.checkpoint, { name: origin, publicKey: createPublicKey(storeKeyPem) });
  const cp = body === undefined ? undefined : parseCheckpoint(body);
  if (cp === undefined) return false;
  return verifyInclusion({
    leaf: leafHash(envelopeBytes),
    index: proof.logIndex,
    size: cp.size,
    proof: proof.inclusionProof.map((h) => Buffer.from(h, 'base64')),
    root: cp.root,
  });
}

describe('receipts kept by the agent', () => {
  it('keep the checkpoint and inclusion proof, which verify offline after the store is gone', async () => {
    const storeDir = join(root, 'store');
    const token = 'proof-token-0123456789abcdefghijklmnop';
    const receiver = await startReceiver({
      dataDir: storeDir,
      host: '127.0.0.1',
      port: 0,
      enrollTokens: [token],
      log: silentLogger(),
    });
    const spool = join(root, 'spool');
    const dev = new FakeDevice({ deviceId: 'rig-p', spoolDir: spool });
    const sent = [dev.enrol(), dev.openSession(), dev.chunk({ bytes: 50_000 }).record];
    const storeKeyPem = receiver.key.publicKeyPem;
    const storeId = receiver.storeId;
    try {
      await syncSpool({ spool, baseUrl: receiver.url, enrollToken: token });
    } finally {
      await receiver.close();
    }
    // The store and everything it holds are gone; the device has its catalog and spool.
    rmSync(storeDir, { recursive: true, force: true });
    rmSync(`${storeDir}.secrets`, { recursive: true, force: true });

    const catalog = Catalog.open({ path: join(spool, 'catalog.sqlite'), logger: silentLogger() });
    try {
      const ledger = catalog.syncLedger();
      for (const [i, envelope] of sent.entries()) {
        const proof = ledger.logProof('rig-p', i + 1);
        expect(proof, `seq ${i + 1}`).toMatchObject({ signer: 'rig-p', seq: i + 1, storeId });
        expect(includedOffline(proof!, envelope, storeKeyPem)).toBe(true);
        // The proof is for this record only: another record's bytes, or a changed hash, fail.
        expect(includedOffline(proof!, sent[(i + 1) % sent.length]!, storeKeyPem)).toBe(false);
        const bent = {
          ...proof!,
          inclusionProof: proof!.inclusionProof.map((h) => h.replace(/^./, (c) => (c === 'A' ? 'B' : 'A'))),
        };
        if (bent.inclusionProof.length > 0) expect(includedOffline(bent, envelope, storeKeyPem)).toBe(false);
      }
    } finally {
      catalog.close();
    }
  });
});
