// Retention: a chunk leaves the spool only when the store's receipt is held AND it is older than
// policy.retentionDays, and only after a signed retention-action record says so. Its records stay.
// Every deletion is recorded in the catalog (chunk state `deleted`), so a restart's reconcile knows
// the file is gone on purpose.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { errnoCode } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { RetentionLedger } from './state.ts';

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
  readonly #ledger: RetentionLedger;
  readonly #spoolDir: string;
  readonly #retentionDays: number;
  readonly #recorder: RetentionRecorder;
  readonly #log: Logger;
  readonly #nowNs: () => bigint;

  constructor(deps: {
    ledger: RetentionLedger;
    spoolDir: string;
    retentionDays: number;
    recorder: RetentionRecorder;
    log: Logger;
    nowNs?: () => bigint;
  }) {
    this.#ledger = deps.ledger;
    this.#spoolDir = deps.spoolDir;
    this.#retentionDays = deps.retentionDays;
    this.#recorder = deps.recorder;
    this.#log = deps.log.child({ component: 'retention' });
    this.#nowNs = deps.nowNs ?? (() => BigInt(Date.now()) * 1_000_000n);
  }

  /** Deletes what policy allows; returns the number of chunks deleted. */
  async sweep(options: { maxChunks?: number } = {}): Promise<number> {
    const cutoffNs = this.#nowNs() - BigInt(this.#retentionDays) * dayNs;
    const due = this.#ledger.expiredChunks(cutoffNs, options.maxChunks ?? 100);
    // Guard again at the point of no return: only chunks whose receipt is held.
    const safe = due.filter((c) => this.#ledger.isChunkSynced(c.path));
    if (safe.length === 0) return 0;
    await this.#recorder.retention({
      deleted: safe.map((c) => ({ session: c.sessionId, name: c.name, sha256: c.sha256 })),
      reason: `synced and older than ${this.#retentionDays} days`,
    });
    for (const c of safe) {
      try {
        await rm(join(this.#spoolDir, c.path));
      } catch (err) {
        if (errnoCode(err) !== 'ENOENT') throw err;
      }
      this.#ledger.markChunkDeleted(c.path);
    }
    this.#log.info({ chunks: safe.length }, 'retention deleted synced chunks');
    return safe.length;
  }
}
