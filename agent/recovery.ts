// Crash recovery at start: leftovers of a crash or power cut become committed, signed chunks (or
// quarantine), the catalog is reconciled with the files, and sessions left open are closed.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Catalog, ChunkRow } from './catalog/catalog.ts';
import { discardHeldFrames } from './deid/holding/recover.ts';
import { closeGaps } from './close-gaps.ts';
import { describeChunkWithFacts, reconcile } from './catalog/reconcile.ts';
import { openSpoolCalibrationHistory } from './calib/index.ts';
import { errnoCode, isRigcapError, type ErrorCode } from './errors.ts';
import type { RecordSealer } from './keys/record-sealer.ts';
import type { Logger } from './log.ts';
import { parseChunkIndex, type CommittedChunk } from './pipeline/chunk-types.ts';
import type { ChunkFileFacts } from './pipeline/mcap-read.ts';
import { recoveredChunkContext, recoveredStreams } from './pipeline/recovered-context.ts';
import { salvagePartial, salvageSpool } from './pipeline/salvage.ts';
import { claimSpool } from './spool-claim.ts';
import { sealCommittedChunk, type ChunkSealOptions } from './pipeline/seal.ts';

export interface RecoveryOptions {
  catalog: Catalog;
  sealer: RecordSealer;
  spoolDir: string;
  rigId: string;
  log: Logger;
  sealOptions: () => ChunkSealOptions;
  /** Recovered chunks are shown among the recent errors of status. */
  noteError: (code: ErrorCode, message: string) => void;
}

/** Salvages partials, reconciles the catalog, signs committed-but-unsigned chunks, closes open sessions. */
export async function recoverSpool(o: RecoveryOptions): Promise<void> {
  const { catalog, log } = o;
  // Salvaging another live writer's partials would wreck its chunks: one rigcap per spool.
  await claimSpool(o.spoolDir, { log });
  const results = await salvageSpool({ spoolDir: o.spoolDir, logger: log });
  for (const r of results) {
    log.warn(
      {
        sessionId: r.sessionId,
        outcome: r.outcome,
        messages: r.messages,
        lostTailBytes: r.lostTailBytes,
        source: r.sourcePath,
      },
      'leftover partial chunk recovered',
    );
    o.noteError(
      r.outcome === 'salvaged' ? 'RIGCAP_CHUNK_SALVAGED' : 'RIGCAP_CHUNK_QUARANTINED',
      `${r.sourcePath}: ${r.outcome}, ${r.messages} messages kept`,
    );
  }
  const report = await reconcile(catalog, {
    spoolDir: o.spoolDir,
    logger: log,
    rigId: o.rigId,
    verify: 'size',
  });
  if (report.added.length > 0 || report.flagged.length > 0)
    log.warn({ added: report.added.length, flagged: report.flagged }, 'catalog reconciled with the spool');
  await signCommitted(o, catalog.listChunks({ state: 'committed' }), 'signed after a restart', {
    skipClosedSessions: true,
  });
  // Frames held for de-id by the ended process cannot be opened (their key died with it): deleted
  // unread, and their count and time window become gaps of their session.
  const held = await discardHeldFrames(o.spoolDir, log);
  for (const [sessionId, gaps] of held)
    o.noteError(
      'RIGCAP_DEID_HELD_LOST',
      `session ${sessionId}: ${gaps.reduce((n, g) => n + g.count, 0)} frames held for de-id were lost with the process`,
    );
  // Sessions a crash left open are closed now, so a verifier sees why their tail ended.
  for (const s of catalog.listSessions().filter((x) => x.state === 'open')) {
    const endNs = BigInt(Date.now()) * 1_000_000n;
    // Named from the session's signed chunks, its lost held frames, and the downtime since it last signed.
    // A session the chain never opened (killed before its open record) cannot be closed: no gaps to read.
    const opened = o.sealer.openSessions.includes(s.id);
    const gaps = !opened
      ? []
      : await closeGaps(o.sealer.store, s.id, {
          heldLost: held.get(s.id) ?? [],
          fallbackNs: endNs,
          recoveredAtNs: endNs,
          topicOf: new Map(o.sealOptions().streams.map((x) => [x.name, x.topic])),
        });
    await o.sealer
      .closeSession({ sessionId: s.id, endNs, reason: 'interrupted', gaps })
      .catch((err: unknown) => {
        log.warn({ sessionId: s.id, err }, 'could not close interrupted session');
      });
    catalog.endSession(s.id, endNs, 'interrupted');
  }
}

/**
 * Before a running session closes: partials a full disk made the writer abandon are salvaged, and
 * committed chunks whose catalog row or record failed (ENOSPC, SQLITE_FULL) are signed. A chunk
 * signed after its session's close record never verifies, so the caller must not close the session
 * when this throws; the next start's recovery finishes the job instead. Returns the chunks signed.
 */
export async function settleSession(o: RecoveryOptions & { sessionId: string }): Promise<number> {
  const dir = join(o.spoolDir, 'sessions', o.sessionId);
  const names = await readdir(dir).catch((err: unknown) => {
    // A session that never wrote a chunk has no folder.
    if (errnoCode(err) !== 'ENOENT') throw err;
    return [] as string[];
  });
  const partials = names.filter((n) => n.endsWith('.mcap.partial')).sort();
  for (const name of partials) {
    const r = await salvagePartial({
      spoolDir: o.spoolDir,
      logger: o.log,
      sessionId: o.sessionId,
      partialPath: join(dir, name),
    });
    o.log.warn(
      {
        sessionId: o.sessionId,
        chunk: name,
        outcome: r.outcome,
        messages: r.messages,
        lostTailBytes: r.lostTailBytes,
      },
      'abandoned partial chunk recovered before the session closes',
    );
    o.noteError(
      r.outcome === 'salvaged' ? 'RIGCAP_CHUNK_SALVAGED' : 'RIGCAP_CHUNK_QUARANTINED',
      `${r.sourcePath}: ${r.outcome}, ${r.messages} messages kept`,
    );
  }
  // A committed chunk whose catalog insert failed has no row yet: reconcile adds it from the file.
  const rowless = names.some(
    (n) => n.endsWith('.mcap') && o.catalog.getChunk(o.sessionId, parseChunkIndex(n) ?? 0) === undefined,
  );
  if (partials.length > 0 || rowless)
    await reconcile(o.catalog, { spoolDir: o.spoolDir, logger: o.log, rigId: o.rigId, verify: 'size' });
  const rows = o.catalog.listChunks({ sessionId: o.sessionId, state: 'committed' });
  await signCommitted(o, rows, 'signed before the session closed; its first seal failed (disk full)', {
    skipClosedSessions: false,
  });
  return rows.length;
}

/** Signs committed-but-unsigned chunks (or only marks them sealed when the chain already has their record). */
async function signCommitted(
  o: Pick<RecoveryOptions, 'catalog' | 'sealer' | 'spoolDir' | 'sealOptions' | 'log' | 'noteError'>,
  rows: readonly ChunkRow[],
  note: string,
  options: { skipClosedSessions: boolean },
): Promise<void> {
  if (rows.length === 0) return;
  const versions = openCalibrationVersions(o.spoolDir, o.log);
  try {
    for (const row of rows) {
      // Killed (or out of space) after the chain record but before the catalog update: the record
      // stands; only the catalog, and perhaps the sidecar, are behind.
      const signed = o.sealer.signedChunk(row.sessionId, row.chunkIndex);
      if (signed !== undefined && signed.sha256 === row.sha256) {
        const path = row.path.startsWith('/') ? row.path : join(o.spoolDir, row.path);
        const record = await o.sealer.store.read(signed.seq);
        const sidecar = await readFile(`${path}.dsse.json`).catch((err: unknown) => {
          if (errnoCode(err) !== 'ENOENT') throw err;
          return undefined;
        });
        if (sidecar === undefined || !sidecar.equals(Buffer.from(record.bytes)))
          await o.sealer.store.writeSidecar(path, record.bytes);
        o.catalog.markChunkSealed(row.sessionId, row.chunkIndex, signed.seq);
        continue;
      }
      if (options.skipClosedSessions && !o.sealer.openSessions.includes(row.sessionId)) {
        // A record signed after its session's close never verifies: leave the chunk unsigned and say so.
        o.log.error(
          { sessionId: row.sessionId, chunk: row.name, code: 'RIGCAP_SESSION_STATE' },
          'committed chunk of a closed session cannot be signed; left unsigned',
        );
        o.noteError('RIGCAP_SESSION_STATE', `${row.path}: its session is closed; left unsigned`);
        continue;
      }
      const described = await describeForSeal(o.spoolDir, row);
      if (described === undefined) continue;
      const { chunk, facts } = described;
      const base = o.sealOptions();
      const ctx = recoveredChunkContext({
        chunk,
        facts,
        drops: row.origin === 'writer' ? row.drops : undefined,
        calibrationVersion: versions.lookup,
        note,
      });
      o.log.warn(
        {
          sessionId: chunk.sessionId,
          chunk: chunk.name,
          origin: ctx.lineage.origin,
          recovered: ctx.lineage.recovered,
          unrecovered: ctx.lineage.unrecovered,
        },
        'signing a chunk from the facts it carries',
      );
      await sealCommittedChunk({ ...base, streams: recoveredStreams(base.streams, facts) }, chunk, ctx);
    }
  } finally {
    versions.close();
  }
}

/** Calibration versions by sensor and digest from the spool's history (the newest version with that digest). */
function openCalibrationVersions(
  spoolDir: string,
  log: Logger,
): { lookup: (sensor: string, sha256: string) => number | undefined; close(): void } {
  let history: ReturnType<typeof openSpoolCalibrationHistory>;
  try {
    history = openSpoolCalibrationHistory(spoolDir, { readonly: true });
  } catch (err) {
    // No history file yet (or unreadable): versions are stated as unknown in the record.
    log.warn({ err: errorMessage(err) }, 'calibration history unreadable; recovered versions unknown');
    return { lookup: () => undefined, close: () => undefined };
  }
  const versions = new Map<string, number>();
  try {
    for (const r of history.store.all()) versions.set(`${r.sensor} ${r.sha256}`, r.version);
  } finally {
    history.close();
  }
  return { lookup: (sensor, sha256) => versions.get(`${sensor} ${sha256}`), close: () => undefined };
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

async function describeForSeal(
  spool: string,
  row: { sessionId: string; chunkIndex: number; path: string },
): Promise<{ chunk: CommittedChunk; facts: ChunkFileFacts } | undefined> {
  const path = row.path.startsWith('/') ? row.path : join(spool, row.path);
  const name = path.slice(path.lastIndexOf('/') + 1);
  try {
    return await describeChunkWithFacts(path, { sessionId: row.sessionId, chunkIndex: row.chunkIndex, name });
  } catch (err) {
    // reconcile already reported a chunk that does not open as MCAP; it stays unsigned.
    if (isRigcapError(err, 'RIGCAP_MCAP_INVALID') || errnoCode(err) === 'ENOENT') return undefined;
    throw err;
  }
}
