// Crash recovery at start: leftovers of a crash or power cut become committed, signed chunks (or
// quarantine), the catalog is reconciled with the files, and sessions left open are closed.
import { join } from 'node:path';
import type { Catalog } from './catalog/catalog.ts';
import { describeChunk, reconcile } from './catalog/reconcile.ts';
import type { RecordSealer } from './keys/record-sealer.ts';
import type { Logger } from './log.ts';
import type { CommittedChunk } from './pipeline/chunk-types.ts';
import { salvageSpool } from './pipeline/salvage.ts';
import { sealCommittedChunk, type ChunkSealOptions } from './pipeline/seal.ts';
import type { TimesyncSummary } from './records/predicates.ts';

export interface RecoveryOptions {
  catalog: Catalog;
  sealer: RecordSealer;
  spoolDir: string;
  rigId: string;
  log: Logger;
  sealOptions: () => ChunkSealOptions;
  /** Recovered chunks are shown among the recent errors of status. */
  noteError: (code: string, message: string) => void;
}

/** Salvages partials, reconciles the catalog, signs committed-but-unsigned chunks, closes open sessions. */
export async function recoverSpool(o: RecoveryOptions): Promise<void> {
  const { catalog, log } = o;
  const results = await salvageSpool({ spoolDir: o.spoolDir, logger: log });
  for (const r of results) {
    log.warn({ sessionId: r.sessionId, outcome: r.outcome, messages: r.messages, lostTailBytes: r.lostTailBytes, source: r.sourcePath }, 'leftover partial chunk recovered');
    o.noteError(r.outcome === 'salvaged' ? 'RIGCAP_CHUNK_SALVAGED' : 'RIGCAP_CHUNK_QUARANTINED', `${r.sourcePath}: ${r.outcome}, ${r.messages} messages kept`);
  }
  const report = await reconcile(catalog, { spoolDir: o.spoolDir, logger: log, rigId: o.rigId, verify: 'size' });
  if (report.added.length > 0 || report.flagged.length > 0) log.warn({ added: report.added.length, flagged: report.flagged }, 'catalog reconciled with the spool');
  for (const row of catalog.listChunks({ state: 'committed' })) {
    // Killed after the chain record but before the catalog update: the record stands (its sidecar
    // was repaired when the sealer opened); only the catalog is behind.
    const signed = o.sealer.signedChunk(row.sessionId, row.chunkIndex);
    if (signed !== undefined && signed.sha256 === row.sha256) {
      catalog.markChunkSealed(row.sessionId, row.chunkIndex, signed.seq);
      continue;
    }
    const chunk = await describeForSeal(o.spoolDir, row);
    if (chunk === undefined) continue;
    await sealCommittedChunk(o.sealOptions(), chunk, {
      window: new Map(),
      timesync: unknownTimesync(chunk),
      calibration: [],
      transforms: [{ kind: 'recovery', note: 'signed after a restart; capture-time context was not recorded' }],
    });
  }
  // Sessions a crash left open are closed now, so a verifier sees why their tail ended.
  for (const s of catalog.listSessions().filter((x) => x.state === 'open')) {
    const endNs = BigInt(Date.now()) * 1_000_000n;
    await o.sealer.closeSession({ sessionId: s.id, endNs, reason: 'interrupted' }).catch((err: unknown) => {
      log.warn({ sessionId: s.id, err: String(err) }, 'could not close interrupted session');
    });
    catalog.endSession(s.id, endNs, 'interrupted');
  }
}

/** For chunks signed after a crash: the clock state at capture is not known, and the record says so. */
export function unknownTimesync(chunk: { startNs: bigint; endNs: bigint }): TimesyncSummary {
  return {
    source: 'none',
    startNs: chunk.startNs.toString(),
    endNs: chunk.endNs.toString(),
    intervals: [{ state: 'unsynced', startNs: chunk.startNs.toString(), endNs: chunk.endNs.toString() }],
    offsetNs: null,
    dispersionNs: null,
    samples: 0,
    steps: [],
    stateAtEnd: 'unsynced',
  };
}

async function describeForSeal(spool: string, row: { sessionId: string; chunkIndex: number; path: string }): Promise<CommittedChunk | undefined> {
  const path = row.path.startsWith('/') ? row.path : join(spool, row.path);
  const name = path.slice(path.lastIndexOf('/') + 1);
  try {
    return await describeChunk(path, { sessionId: row.sessionId, chunkIndex: row.chunkIndex, name });
  } catch {
    return undefined;
  }
}
