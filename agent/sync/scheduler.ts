// UploadScheduler: drains the sync queue to the store. Records and small, high-priority chunks go
// first; a few uploads run at once under one bandwidth cap; failures back off with jitter and a
// lost link is probed before work resumes. A chunk counts as synced only after its receipt verifies.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { RigcapError, isRigcapError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { regionRefusal, unknownRegion } from '../records/residency.ts';
import { ReceiptVerifier, type CustodyAnswer } from './receipts.ts';
import { scanSpool } from './spool-scan.ts';
import { checkStorePin } from './store-pin.ts';
import { itemKey, type SyncItem, type SyncLedger } from './state.ts';
import { backoffMs, sleep } from './token-bucket.ts';
import { TransferError, type TusClient } from './tus-client.ts';

export interface UploadSchedulerOptions {
  spoolDir: string;
  state: SyncLedger;
  client: TusClient;
  log: Logger;
  concurrency: number;
  backoffMinMs: number;
  backoffMaxMs: number;
  /** One-time enrolment token sent with device-key records ('' for none). */
  enrollToken: string;
  /** Store regions data may go to (`sync.allowedRegions`); absent = any store. */
  allowedRegions?: readonly string[];
  /** Pinned store public key (SPKI PEM); without it or a keyid the first key seen is kept and must not change. */
  storeKeyPem?: string;
  /** Pinned keyid of the store's key (SHA-256 of its SPKI, hex). */
  storeKeyId?: string;
  /** Trust the first key seen (set by openSyncService only when the config says so). */
  trustOnFirstUse?: boolean;
  streamPriority?: (topic: string) => number | undefined;
  /** Link cap, for the ETA before a rate has been measured (0 = uncapped). */
  bandwidthBytesPerSec?: number;
  random?: () => number;
}

/** What `status` shows about sync. */
export interface Backlog {
  chunks: number;
  bytes: number;
  records: number;
  refused: number;
  etaSeconds: number | null;
  lastReceipt: { signerId: string; seq: number; logIndex: number; syncedMs: number } | null;
  online: boolean;
  /** Why nothing is sent (a store outside `sync.allowedRegions`), or null. */
  blocked: { code: string; reason: string; storeRegion: string } | null;
}

export interface DrainResult {
  synced: number;
  refused: number;
  /** True when nothing is pending any more (refused items excepted). */
  empty: boolean;
}

/** Codes after which an item is retried later instead of being set aside. */
const retryLaterCodes = new Set(['RIGCAP_RECEIVER_BLOB_MISSING', 'RIGCAP_RECEIVER_UNKNOWN_DEVICE']);

/** Drives uploads from the sync ledger to one store. */
export class UploadScheduler {
  readonly #o: UploadSchedulerOptions;
  readonly #log: Logger;
  #verifier: ReceiptVerifier | undefined;
  #online = true;
  #probeAttempt = 0;
  #rateBytesPerSec = 0;
  #lastRateSample: { atMs: number; confirmed: number } | undefined;
  readonly #abort = new AbortController();
  #running: Promise<void> | undefined;
  #closing = false;
  #halted: RigcapError | undefined;
  #blocked: Backlog['blocked'] | undefined;

  constructor(options: UploadSchedulerOptions) {
    this.#o = options;
    this.#log = options.log.child({ component: 'sync' });
  }

  /** Sync backlog for status and metrics. */
  backlog(): Backlog {
    const counts = this.#o.state.backlog();
    const rate = this.#rateBytesPerSec > 0 ? this.#rateBytesPerSec : (this.#o.bandwidthBytesPerSec ?? 0);
    return {
      ...counts,
      etaSeconds: counts.bytes === 0 ? 0 : rate > 0 ? Math.ceil(counts.bytes / rate) : null,
      lastReceipt: this.#o.state.lastReceipt() ?? null,
      online: this.#online,
      blocked: this.#blocked ?? null,
    };
  }

  /** Queues unseen spool records. */
  scan(): Promise<number> {
    return scanSpool({
      spoolDir: this.#o.spoolDir,
      state: this.#o.state,
      log: this.#log,
      streamPriority: this.#o.streamPriority ?? (() => undefined),
    });
  }

  /** Scans, then works until nothing is pending or `signal` aborts; `untilMs` bounds the wait on backoff. */
  async drain(
    options: { signal?: AbortSignal; untilMs?: number; onProgress?: (b: Backlog) => void } = {},
  ): Promise<DrainResult> {
    const signal =
      options.signal === undefined
        ? this.#abort.signal
        : AbortSignal.any([options.signal, this.#abort.signal]);
    await this.scan();
    let synced = 0;
    let refused = 0;
    const inflight = new Map<string, Promise<void>>();
    while (!signal.aborted && this.#halted === undefined) {
      if (!this.#online) await this.#probe(signal);
      if (this.#online) {
        const free = this.#o.concurrency - inflight.size;
        const due = free > 0 ? this.#o.state.due(Date.now(), free, new Set(inflight.keys())) : [];
        for (const item of due) {
          const key = itemKey(item);
          const work = this.#process(item, signal)
            .then((outcome) => {
              if (outcome === 'synced') synced += 1;
              if (outcome === 'refused') refused += 1;
              options.onProgress?.(this.backlog());
            })
            .finally(() => inflight.delete(key));
          inflight.set(key, work);
        }
      }
      if (inflight.size > 0) {
        await Promise.race(inflight.values());
        continue;
      }
      const next = this.#o.state.nextDueMs();
      if (next === undefined) break;
      if (options.untilMs !== undefined && Math.max(next, Date.now()) > options.untilMs) break;
      await sleep(Math.max(10, Math.min(next - Date.now(), 1000)), signal).catch(() => undefined);
    }
    await Promise.allSettled(inflight.values());
    if (this.#halted !== undefined) throw this.#halted;
    return { synced, refused, empty: this.#o.state.nextDueMs() === undefined };
  }

  /** Runs in the background: scan and drain every `intervalMs` until close(). */
  start(options: { intervalMs: number }): void {
    if (this.#running !== undefined) return;
    this.#running = (async () => {
      while (!this.#abort.signal.aborted && !this.#closing) {
        try {
          await this.drain({ untilMs: Date.now() + options.intervalMs });
        } catch (err) {
          this.#log.error({ err, code: isRigcapError(err) ? err.code : undefined }, 'sync stopped');
          if (this.#halted !== undefined) return;
        }
        await sleep(options.intervalMs, this.#abort.signal).catch(() => undefined);
      }
    })();
  }

  /** Lets in-flight uploads reach their next confirmed part, then stops. */
  async close(): Promise<void> {
    this.#closing = true;
    this.#abort.abort(new Error('sync closing'));
    await this.#running;
    await this.#o.client.close();
  }

  /** Abandons in-flight uploads now; their confirmed offsets are already saved. */
  async destroy(err?: Error): Promise<void> {
    this.#closing = true;
    this.#abort.abort(err ?? new Error('sync destroyed'));
    await this.#o.client.destroy();
    await this.#running?.catch(() => undefined);
  }

  async #verifierFor(signal: AbortSignal): Promise<ReceiptVerifier> {
    if (this.#verifier !== undefined) return this.#verifier;
    const res = await this.#o.client.call('GET', '/v1/store', { signal });
    if (res.status !== 200)
      throw new TransferError(`GET /v1/store: HTTP ${res.status}`, { retryable: true, status: res.status });
    const info = JSON.parse(res.text) as { storeId: string; publicKeyPem: string; region?: string };
    // Residency is checked before any record or blob byte: the store answer names its region.
    const refusal = regionRefusal(this.#o.allowedRegions, info.region);
    if (refusal !== undefined) {
      const reason = `store ${info.storeId}: ${refusal}`;
      this.#blocked = {
        code: 'RIGCAP_SYNC_REGION_NOT_ALLOWED',
        reason,
        storeRegion: info.region ?? unknownRegion,
      };
      throw new RigcapError('RIGCAP_SYNC_REGION_NOT_ALLOWED', reason);
    }
    checkStorePin(this.#o, info, this.#o.state);
    this.#verifier = new ReceiptVerifier({
      state: this.#o.state,
      storePublicKeyPem: info.publicKeyPem,
      storeId: info.storeId,
      consistency: async (first, second) => {
        const r = await this.#o.client.call('GET', `/v1/log/consistency?first=${first}&second=${second}`, {
          signal,
        });
        if (r.status !== 200)
          throw new TransferError(`consistency proof: HTTP ${r.status}`, {
            retryable: true,
            status: r.status,
          });
        return (JSON.parse(r.text) as { proof: string[] }).proof;
      },
    });
    return this.#verifier;
  }

  async #process(item: SyncItem, signal: AbortSignal): Promise<'synced' | 'refused' | 'retry'> {
    const { state, client } = this.#o;
    try {
      const verifier = await this.#verifierFor(signal);
      const recordBytes = await readFile(join(this.#o.spoolDir, item.recordPath));
      if (item.blobPath !== null && item.blobSha256 !== null) {
        await client.upload({
          path: join(this.#o.spoolDir, item.blobPath),
          sha256: item.blobSha256,
          size: item.blobBytes,
          name: item.blobPath.split('/').pop() ?? 'blob',
          ...(item.uploadUrl === null || item.uploadUrl === ''
            ? {}
            : { resume: { uploadUrl: item.uploadUrl, offset: item.uploadOffset } }),
          onProgress: (p) => {
            state.saveProgress(item.signerId, item.seq, p);
            this.#sampleRate();
          },
          signal,
        });
      }
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (item.predicate === 'device-key' && this.#o.enrollToken !== '')
        headers['rigcap-enroll-token'] = this.#o.enrollToken;
      const res = await client.call('POST', '/v1/records', { headers, body: recordBytes, signal });
      if (res.status !== 200 && res.status !== 201) {
        const code = (() => {
          try {
            return (JSON.parse(res.text) as { code?: string }).code;
          } catch (err) {
            if (!(err instanceof SyntaxError)) throw err;
            return undefined;
          }
        })();
        throw new TransferError(
          `record ${itemKey(item)} refused: HTTP ${res.status} ${res.text.trim()}`,
          code === undefined
            ? { retryable: false, status: res.status }
            : { retryable: false, status: res.status, code },
        );
      }
      const kept = await verifier.verify(recordBytes, JSON.parse(res.text) as CustodyAnswer);
      // A receipt that states a region outside the allowed ones stops sync like the store answer does.
      const receiptRegion = regionOfReceipt(kept.receiptJson);
      const refusal =
        receiptRegion === undefined ? undefined : regionRefusal(this.#o.allowedRegions, receiptRegion);
      if (refusal !== undefined) {
        const reason = `receipt for ${itemKey(item)}: ${refusal}`;
        this.#blocked = { code: 'RIGCAP_SYNC_REGION_NOT_ALLOWED', reason, storeRegion: receiptRegion! };
        throw new RigcapError('RIGCAP_SYNC_REGION_NOT_ALLOWED', reason);
      }
      state.synced(item.signerId, item.seq, {
        receiptJson: kept.receiptJson,
        logIndex: kept.logIndex,
        nowMs: Date.now(),
        logProof: kept.logProof,
      });
      this.#online = true;
      this.#log.debug({ signer: item.signerId, seq: item.seq, logIndex: kept.logIndex }, 'synced');
      return 'synced';
    } catch (err) {
      if (signal.aborted) return 'retry';
      return this.#failed(item, err);
    }
  }

  #failed(item: SyncItem, err: unknown): 'refused' | 'retry' {
    const { state } = this.#o;
    const message = err instanceof Error ? err.message : String(err);
    const attempt = item.attempts + 1;
    const delay = backoffMs({
      attempt,
      minMs: this.#o.backoffMinMs,
      maxMs: this.#o.backoffMaxMs,
      ...(this.#o.random === undefined ? {} : { random: this.#o.random }),
    });
    if (
      isRigcapError(err, 'RIGCAP_SYNC_REGION_NOT_ALLOWED') ||
      isRigcapError(err, 'RIGCAP_SYNC_STORE_KEY_MISMATCH')
    ) {
      // Nothing may go to this store (outside the allowed regions, or not the pinned key); status
      // and metrics show why until the config changes.
      this.#halted = err;
      this.#log.error({ code: err.code, reason: message }, 'nothing may go to this store; sync halted');
      return 'retry';
    }
    if (isRigcapError(err, 'RIGCAP_SYNC_LOG_INCONSISTENT')) {
      // A forked or shrunk log means the store cannot be trusted with anything more.
      this.#halted = err;
      state.failed(item.signerId, item.seq, { error: message, nextAttemptMs: Date.now() + delay });
      this.#log.error({ code: err.code, reason: message }, 'store log inconsistent; sync halted');
      return 'retry';
    }
    if (err instanceof TransferError && !err.retryable && !retryLaterCodes.has(err.code ?? '')) {
      state.refused(item.signerId, item.seq, message);
      this.#log.error(
        { signer: item.signerId, seq: item.seq, code: err.code ?? 'RIGCAP_SYNC_REFUSED', reason: message },
        'store refused',
      );
      return 'refused';
    }
    if (isRigcapError(err, 'RIGCAP_SYNC_RECEIPT_INVALID')) {
      state.refused(item.signerId, item.seq, message);
      this.#log.error(
        { signer: item.signerId, seq: item.seq, code: err.code, reason: message },
        'receipt invalid',
      );
      return 'refused';
    }
    if (err instanceof TransferError && err.code === 'RIGCAP_RECEIVER_BLOB_MISSING') {
      state.saveProgress(item.signerId, item.seq, { uploadUrl: '', offset: 0 });
    }
    if (err instanceof TransferError && err.retryable && err.status === undefined) this.#online = false;
    state.failed(item.signerId, item.seq, { error: message, nextAttemptMs: Date.now() + delay });
    this.#log.warn(
      { signer: item.signerId, seq: item.seq, attempt, delayMs: delay, reason: message },
      'sync retry',
    );
    return 'retry';
  }

  /** Waits (with backoff) until GET /v1/store answers again. */
  async #probe(signal: AbortSignal): Promise<void> {
    this.#probeAttempt += 1;
    const delay = backoffMs({
      attempt: this.#probeAttempt,
      minMs: this.#o.backoffMinMs,
      maxMs: this.#o.backoffMaxMs,
      ...(this.#o.random === undefined ? {} : { random: this.#o.random }),
    });
    await sleep(delay, signal).catch(() => undefined);
    if (signal.aborted) return;
    try {
      const res = await this.#o.client.call('GET', '/v1/store', { signal });
      if (res.status === 200) {
        this.#online = true;
        this.#probeAttempt = 0;
        this.#log.info('store reachable again');
      }
    } catch (err) {
      // Still offline; the next probe waits longer.
      this.#log.debug({ err }, 'store still unreachable');
    }
  }

  #sampleRate(): void {
    const now = Date.now();
    const confirmed = this.#o.client.stats.bytesConfirmed;
    const last = this.#lastRateSample;
    if (last === undefined) {
      this.#lastRateSample = { atMs: now, confirmed };
      return;
    }
    const dt = now - last.atMs;
    if (dt < 500) return;
    const rate = ((confirmed - last.confirmed) * 1000) / dt;
    this.#rateBytesPerSec = this.#rateBytesPerSec === 0 ? rate : 0.7 * this.#rateBytesPerSec + 0.3 * rate;
    this.#lastRateSample = { atMs: now, confirmed };
  }
}

/** The `region` a custody receipt (DSSE envelope JSON) states, or undefined. */
function regionOfReceipt(receiptJson: string): string | undefined {
  const env = JSON.parse(receiptJson) as { payload?: string };
  if (typeof env.payload !== 'string') return undefined;
  const statement = JSON.parse(Buffer.from(env.payload, 'base64').toString('utf8')) as {
    predicate?: { region?: unknown };
  };
  const region = statement.predicate?.region;
  return typeof region === 'string' ? region : undefined;
}
