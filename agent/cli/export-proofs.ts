// The log proofs `rigcap export --format intoto --log-proofs` carries: for each of the session's
// records a store holds, the signed checkpoint and inclusion proof the store answered it with (kept
// in the store's state next to its receipt), read from the store's data directory.
import { RigcapError } from '../errors.ts';
import { createLogger } from '../log.ts';
import type { LogProof } from '../records/bundle-proofs.ts';
import type { SessionRecords } from '../records/exports.ts';

/** Proofs of the session's device records held by the store whose data directory is `dataDir`. */
export async function storeLogProofs(dataDir: string, s: SessionRecords): Promise<LogProof[]> {
  const storeId = s.receipts[0]?.storeId;
  if (storeId === undefined)
    throw new RigcapError(
      'RIGCAP_NOT_FOUND',
      `rigcap export --log-proofs: no custody receipt of session ${s.sessionId} under ${dataDir}`,
    );
  const { openReceiverState } = await import('../../receiver/state/open.ts');
  const { state } = await openReceiverState({
    dataDir,
    log: createLogger({ fd: 2, json: true, level: 'warn' }),
  });
  try {
    const records = [...(s.open ? [s.open] : []), ...s.chunks, ...s.markers, ...(s.close ? [s.close] : [])];
    const proofs: LogProof[] = [];
    for (const r of records) {
      const row = await state.record(r.chain.deviceId, r.chain.seq);
      if (row?.checkpoint == null || row.inclusionProof === null) continue;
      proofs.push({
        signer: r.chain.deviceId,
        seq: r.chain.seq,
        storeId,
        logIndex: row.logIndex,
        checkpoint: row.checkpoint,
        inclusionProof: [...row.inclusionProof],
      });
    }
    return proofs;
  } finally {
    await state.close();
  }
}
