// Moves an embedded store's state into PostgreSQL (and its blobs into an object store) without
// touching the audit trail: the same keys, tokens, records with their receipts, log leaves and
// store chain head, so the log root and every receipt stay valid. Blobs are copied first, then the
// state in one transaction; running it again after success changes nothing.
import { createReadStream, existsSync } from 'node:fs';
import { join } from 'node:path';
import { RigcapError } from '../../agent/errors.ts';
import type { Logger } from '../../agent/log.ts';
import { treeRoot } from '../../agent/records/merkle.ts';
import type { ReceiverState } from '../state.ts';
import { EmbeddedReceiverState } from './embedded.ts';
import { embeddedStatePath, type StateDatabase } from './open.ts';
import { openPgReceiverState } from './pg/pg-state.ts';

/** Where migrated blobs go (an S3 blob store); each write checks the digest. */
export interface BlobWriter {
  writeBlob(sha256: string, body: AsyncIterable<Uint8Array>): Promise<{ bytes: number; created: boolean }>;
}

/** What a migration did. */
export interface StoreMigration {
  records: number;
  logEntries: number;
  /** Log root (hex) of source and target after the move: one value, since they are the same log. */
  logRootHex: string;
  blobsCopied: number;
  blobsPresent: number;
  /** True when the target already held exactly this store (nothing was written). */
  alreadyMigrated: boolean;
}

/** The store meta keys that carry the store's own chain. */
const storeMetaKeys = ['store.enrol', 'store.seq', 'store.head'] as const;

async function copyBlobs(
  source: ReceiverState,
  fromDir: string,
  blobs: BlobWriter,
  log: Logger,
): Promise<{ copied: number; present: number }> {
  const digests = new Set(
    (await source.allRecords()).flatMap((r) => (r.blobSha256 === null ? [] : [r.blobSha256])),
  );
  let copied = 0;
  let present = 0;
  for (const sha256 of digests) {
    const out = await blobs.writeBlob(sha256, createReadStream(join(fromDir, 'blobs', 'sha256', sha256)));
    if (out.created) copied += 1;
    else present += 1;
    log.debug({ sha256, bytes: out.bytes, created: out.created }, 'blob migrated');
  }
  return { copied, present };
}

/** Same log, same records: the target is this store, already migrated. */
async function sameStore(source: ReceiverState, target: ReceiverState): Promise<boolean> {
  const [a, b] = [await source.leavesFrom(0), await target.leavesFrom(0)];
  if (a.length !== b.length || !a.every((leaf, i) => leaf.equals(b[i] ?? Buffer.alloc(0)))) return false;
  return (await source.meta('store.head')) === (await target.meta('store.head'));
}

async function copyState(source: ReceiverState, target: ReceiverState): Promise<void> {
  const [keys, tokens, records, entries] = [
    await source.allKeys(),
    await source.usedTokens(),
    await source.allRecords(),
    await source.entriesFrom(0, Number.MAX_SAFE_INTEGER),
  ];
  await target.admit(async (tx) => {
    for (const k of keys) await tx.addKey(k);
    for (const t of tokens) await tx.consumeToken(t.tokenSha256, t.signerId);
    for (const e of entries) await tx.appendLeaf(e.index, e.leaf, e.entry ?? undefined);
    for (const r of records) await tx.insertRecord(r);
    for (const name of storeMetaKeys) {
      const value = await source.meta(name);
      if (value !== undefined) await tx.setMeta(name, value);
    }
  });
}

/** Copies the embedded store at `fromDir` into the database `to` (and its blobs into `blobs`). */
export async function migrateStore(options: {
  fromDir: string;
  to: StateDatabase;
  blobs?: BlobWriter;
  log: Logger;
}): Promise<StoreMigration> {
  const path = embeddedStatePath(options.fromDir);
  if (!existsSync(path))
    throw new RigcapError('RIGCAP_USAGE', `${options.fromDir} is not an embedded store (no ${path})`);
  const source = new EmbeddedReceiverState(path);
  try {
    const target = await openPgReceiverState({ ...options.to, log: options.log });
    try {
      const blobs =
        options.blobs === undefined
          ? { copied: 0, present: 0 }
          : await copyBlobs(source, options.fromDir, options.blobs, options.log);
      const targetLeaves = await target.leavesFrom(0);
      const alreadyMigrated = targetLeaves.length > 0 && (await sameStore(source, target));
      if (!alreadyMigrated) {
        if (targetLeaves.length > 0 || (await target.meta('store.seq')) !== undefined)
          throw new RigcapError(
            'RIGCAP_STORE_MIGRATE_CONFLICT',
            'the target database already holds a store that is not this one',
          );
        await copyState(source, target);
      }
      const [sourceRoot, targetRoot] = [
        treeRoot(await source.leavesFrom(0)),
        treeRoot(await target.leavesFrom(0)),
      ];
      if (!sourceRoot.equals(targetRoot))
        throw new RigcapError(
          'RIGCAP_STORE_MIGRATE_CONFLICT',
          'the migrated log root differs from the source',
        );
      return {
        records: (await target.allRecords()).length,
        logEntries: (await target.leavesFrom(0)).length,
        logRootHex: targetRoot.toString('hex'),
        blobsCopied: blobs.copied,
        blobsPresent: blobs.present,
        alreadyMigrated,
      };
    } finally {
      await target.close();
    }
  } finally {
    await source.close();
  }
}
