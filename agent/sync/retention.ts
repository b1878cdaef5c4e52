// Retention: a chunk leaves the spool only when the store's receipt is held AND it is older than
// policy.retentionDays, and only after a signed retention-action record says so. Its records stay.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { errnoCode } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { SyncState } from './state.ts';

/** Signs a retention-action record (RecordSealer.retention fits). */
export interface RetentionRecorder {
  retention(options: {
    deleted: Array<{ session: string; name: string; sha256: string }>;
    reason: string;
  }): Promise<unknown>;
}

const dayNs = 86_400n * 1_000_000_000n;

/** Deletes expired, synced chunks in batches, each batch under one signed record. */
export class RetentionSweeper {
  readonly #state: SyncState;
  readonly #spoolDir: string;
  readonly #retentionDays: number;
  readonly #recorder: RetentionRecorder;
  readonly #log: Logger;
  readonly #nowNs: () => bigint;

  constructor(deps: {
    state: SyncState;
    spoolDir: string;
    retentionDays: number;
    recorder: RetentionRecorder;
    log: Logger;
    nowNs?: () => bigint;
  }) {
    this.#state = deps.state;
    this.#spoolDir = deps.spoolDir;
    this.#retentionDays = deps.retentionDays;
    this.#recorder = deps.recorder;
    this.#log = deps.log.child({ component: 'retention' });
    this.#nowNs = deps.nowNs ?? (() => BigInt(Date.now()) * 1_000_000n);
  }

  /** Deletes what policy allows; returns the number of chunks deleted. */
  async sweep(options: { maxChunks?: number } = {}): Promise<number> {
    const cutoffNs = this.#nowNs() - BigInt(this.#retentionDays) * dayNs;
    const due = this.#state.expiredChunks(cutoffNs).slice(0, options.maxChunks ?? 100);
    if (due.length === 0) return 0;
    const deleted = due.flatMap((item) => {
      const [, session, name] = (item.blobPath ?? '').split('/');
      return session === undefined || name === undefined || item.blobSha256 === null
        ? []
        : [{ session, name, sha256: item.blobSha256, item }];
    });
    // Guard again at the point of no return: only items whose receipt is held.
    const safe = deleted.filter((d) => this.#state.isBlobSynced(d.item.blobPath ?? ''));
    if (safe.length === 0) return 0;
    await this.#recorder.retention({
      deleted: safe.map(({ session, name, sha256 }) => ({ session, name, sha256 })),
      reason: `synced and older than ${this.#retentionDays} days`,
    });
    for (const d of safe) {
      try {
        await rm(join(this.#spoolDir, d.item.blobPath ?? ''));
      } catch (err) {
        if (errnoCode(err) !== 'ENOENT') throw err;
      }
      this.#state.markDeleted(d.item.signerId, d.item.seq);
    }
    this.#log.info({ chunks: safe.length }, 'retention deleted synced chunks');
    return safe.length;
  }
}
