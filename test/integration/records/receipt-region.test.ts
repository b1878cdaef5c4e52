// rigcap verify catches a custody receipt whose store region the chunk's signed policy does not
// allow: a store outside allowedRegions, or one stating no region at all.
import { rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FsSource } from '../../../agent/keys/index.ts';
import {
  readChains,
  receiptSubject,
  verifyTree,
  type CaptureChunkPredicate,
  type DecodedRecord,
} from '../../../agent/records/index.ts';
import { captureSession, imuDefinition, sha } from './context-sessions.ts';
import { openSpool, type FixtureSpool } from './spool-fixture.ts';

let spool: FixtureSpool;
const stores: FixtureSpool[] = [];

async function receipt(storeId: string, chunk: DecodedRecord, region: string | undefined): Promise<void> {
  const store = await openSpool({ deviceId: storeId, rootDir: spool.rootDir });
  stores.push(store);
  const p = chunk.predicate as unknown as CaptureChunkPredicate;
  await store.sealer.append(
    'custody-receipt',
    {
      record: { signer: chunk.chain.deviceId, seq: chunk.chain.seq, sha256: chunk.payloadSha256 },
      blob: { name: chunk.subject[0]!.name, sha256: chunk.subject[0]!.digest.sha256, bytes: p.bytes },
      receivedWallNs: '1700000000000000000',
      log: { index: 0, size: 1, root: sha('log') },
      ...(region === undefined ? {} : { region }),
    },
    receiptSubject(chunk.chain.deviceId, chunk.chain.seq, chunk.payloadSha256),
  );
  await store.sealer.close();
}

beforeAll(async () => {
  spool = await openSpool({ deviceId: 'rig-residency' });
  await captureSession(spool, {
    sessionId: 's-eu',
    faceThreshold: 0.5,
    imuDefinition,
    paramsDigest: sha('p'),
    allowedRegions: ['eu-west'],
  });
  await spool.sealer.close();
  const chunk = (await readChains(new FsSource(spool.rootDir)))
    .get('rig-residency')!
    .find((r) => r.name === 'capture-chunk')!;
  await receipt('store-eu', chunk, 'eu-west');
  await receipt('store-us', chunk, 'us-east-1');
  await receipt('store-silent', chunk, undefined);
});
afterAll(async () => {
  for (const s of [spool, ...stores]) await rm(dirname(s.keysDir), { recursive: true, force: true });
});

describe('receipt regions against the signed policy', () => {
  it('flags the receipts of a store outside allowedRegions and of one stating no region, not the allowed one', async () => {
    const report = await verifyTree(new FsSource(spool.rootDir));
    const region = report.failures.filter((f) => f.code === 'VERIFY_RECEIPT_REGION');
    expect(region.map((f) => f.file.split('/')[1]).sort()).toEqual(['store-silent', 'store-us']);
    expect(region.find((f) => f.file.includes('store-us'))?.reason).toMatch(/us-east-1.*eu-west/);
    expect(region.find((f) => f.file.includes('store-silent'))?.reason).toMatch(/unknown/);
    expect(report.failures.filter((f) => f.code !== 'VERIFY_RECEIPT_REGION')).toEqual([]);
  });
});
