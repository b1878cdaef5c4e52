// What sync and retention need to remember, as ports: sync records which records and blobs are
// pending, the tus URL and the offset the server confirmed, backoff, receipts and the store's last
// checkpoint; retention asks which synced chunks have expired and says which it deleted. The
// catalog implements both (agent/catalog/sync-ledger.ts) and is the only place this state lives;
// the composition root hands its ledger to sync. A restart reads it and resumes where it stopped.

import type { LogProof } from '../records/bundle-proofs.ts';

export type SyncItemState = 'pending' | 'synced' | 'refused';

/** One record to send, with the blob it names (chunk records). */
export interface SyncItem {
  signerId: string;
  seq: number;
  predicate: string;
  /** Record file, relative to the spool. */
  recordPath: string;
  /** Chunk file, relative to the spool (chunk records only). */
  blobPath: string | null;
  blobSha256: string | null;
  blobBytes: number;
  /** 0 first; device-key records −1 so keys reach the store before what they sign. */
  priority: number;
  state: SyncItemState;
  uploadUrl: string | null;
  uploadOffset: number;
  attempts: number;
  nextAttemptMs: number;
  lastError: string | null;
  receiptJson: string | null;
  logIndex: number | null;
  syncedMs: number | null;
}

/** What the spool scan knows about a record when it queues it. */
export type NewSyncItem = Pick<
  SyncItem,
  'signerId' | 'seq' | 'predicate' | 'recordPath' | 'blobPath' | 'blobSha256' | 'blobBytes' | 'priority'
>;

/** Backlog figures straight from the ledger. */
export interface BacklogCounts {
  records: number;
  chunks: number;
  /** Bytes still to send: unconfirmed blob bytes (records are small and not counted). */
  bytes: number;
  refused: number;
}

/** The latest receipt held (for status). */
export interface LastReceipt {
  signerId: string;
  seq: number;
  logIndex: number;
  syncedMs: number;
}

/** Upload and receipt state of the spool's records, as the scheduler, scan and receipt check use it. */
export interface SyncLedger {
  /** Adds an item unless it is already known; true when added. */
  add(item: NewSyncItem): boolean;
  has(signerId: string, seq: number): boolean;
  get(signerId: string, seq: number): SyncItem | undefined;
  /**
   * Pending items due now, best first: priority, then small before large, then chain order. A record
   * waits while an earlier device-key record of its signer is pending (its key must be known first).
   */
  due(nowMs: number, limit: number, exclude: ReadonlySet<string>): SyncItem[];
  /** Earliest next attempt among pending items, or undefined when none is pending. */
  nextDueMs(): number | undefined;
  saveProgress(signerId: string, seq: number, progress: { uploadUrl: string; offset: number }): void;
  failed(signerId: string, seq: number, options: { error: string; nextAttemptMs: number }): void;
  refused(signerId: string, seq: number, error: string): void;
  /** The store's receipt verified: the record, and the chunk it names, are synced. */
  synced(
    signerId: string,
    seq: number,
    options: { receiptJson: string; logIndex: number; nowMs: number; logProof?: LogProof },
  ): void;
  /** The checkpoint and inclusion proof kept with a record's receipt (README "Store log"). */
  logProof(signerId: string, seq: number): LogProof | undefined;
  backlog(): BacklogCounts;
  lastReceipt(): LastReceipt | undefined;
  /** Small sync values (pinned store key, last checkpoint). */
  meta(key: string): string | undefined;
  setMeta(key: string, value: string): void;
}

/** A synced chunk that retention may delete. */
export interface ExpiredChunk {
  sessionId: string;
  name: string;
  /** Chunk file, relative to the spool. */
  path: string;
  sha256: string;
}

/** What retention reads and changes: chunk state, owned by the catalog. */
export interface RetentionLedger {
  /** Synced chunks (receipt held) still on disk that ended before `endBeforeNs`, oldest first. */
  expiredChunks(endBeforeNs: bigint, limit: number): ExpiredChunk[];
  /** Whether the chunk at `path` is synced with a receipt (retention's guard at the point of no return). */
  isChunkSynced(path: string): boolean;
  /** The chunk's file is gone by retention: its state becomes `deleted`. */
  markChunkDeleted(path: string): void;
}

/** Stable key of an item (`signer/seq`). */
export function itemKey(item: { signerId: string; seq: number }): string {
  return `${item.signerId}/${item.seq}`;
}
