// Simulated devices for the fleet store: each one a spool written by FakeDevice (its own key and
// chain: enrolment, a session, chunks), synced by the agent's own code (catalog sync ledger, upload
// scheduler, tus client signing every request with the device key). The tus client is watched:
// every offset the server confirmed (PATCH answers, HEAD answers) is remembered per upload, so an
// upload that starts again from zero although the server held an offset is caught.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { decodeRecord } from '../../agent/records/record-decode.ts';
import { Catalog } from '../../agent/catalog/catalog.ts';
import { silentLogger } from '../../agent/log.ts';
import { UploadScheduler } from '../../agent/sync/scheduler.ts';
import { TusClient, type TusClientOptions } from '../../agent/sync/tus-client.ts';
import type { SyncLedger } from '../../agent/sync/state.ts';
import { FakeDevice } from '../integration/sync/fake-device.ts';

/** What the watched tus clients saw. */
export class UploadWatch {
  /** Highest offset the server confirmed, by upload URL. */
  readonly confirmed = new Map<string, number>();
  readonly urlsOf = new Map<string, string[]>();
  /** Uploads started again from zero although the server had confirmed an offset. */
  readonly restartsFromZero: string[] = [];
  /** HEADs that found an offset above zero (an upload resumed where the server stood). */
  resumes = 0;
  creates = 0;
  patches = 0;

  #confirm(url: string, offset: number): void {
    this.confirmed.set(url, Math.max(this.confirmed.get(url) ?? 0, offset));
  }

  created(sha256: string, url: string): void {
    this.creates += 1;
    const earlier = this.urlsOf.get(sha256) ?? [];
    for (const u of earlier) {
      const had = this.confirmed.get(u) ?? 0;
      if (had > 0) this.restartsFromZero.push(`${sha256}: new upload ${url} after ${u} held ${had} bytes`);
    }
    this.urlsOf.set(sha256, [...earlier, url]);
  }

  head(url: string, offset: number | undefined): void {
    if (offset === undefined) return;
    if (offset > 0) this.resumes += 1;
    const had = this.confirmed.get(url) ?? 0;
    if (offset < had) this.restartsFromZero.push(`${url}: HEAD says ${offset} after ${had} was confirmed`);
    this.#confirm(url, offset);
  }

  patchAt(url: string, offset: number): void {
    this.patches += 1;
    const had = this.confirmed.get(url) ?? 0;
    if (offset < had) this.restartsFromZero.push(`${url}: PATCH at ${offset} after ${had} was confirmed`);
  }

  patched(url: string, next: number): void {
    this.#confirm(url, next);
  }
}

/** The agent's tus client, reporting to an UploadWatch. */
class WatchedTusClient extends TusClient {
  readonly #watch: UploadWatch;

  constructor(options: TusClientOptions, watch: UploadWatch) {
    super(options);
    this.#watch = watch;
  }

  override async create(o: Parameters<TusClient['create']>[0]): Promise<string> {
    const url = await super.create(o);
    this.#watch.created(o.sha256, url);
    return url;
  }

  override async offset(url: string, signal?: AbortSignal): Promise<number | undefined> {
    const at = await super.offset(url, signal);
    this.#watch.head(url, at);
    return at;
  }

  override async patch(url: string, offset: number, part: Uint8Array, signal?: AbortSignal): Promise<number> {
    this.#watch.patchAt(url, offset);
    const next = await super.patch(url, offset, part, signal);
    this.#watch.patched(url, next);
    return next;
  }
}

/** One record a device sent: its bytes, and the chunk it names. */
export interface SentRecord {
  signerId: string;
  seq: number;
  bytes: Uint8Array;
  chunk?: { path: string; sha256: string; bytes: number };
}

/** A device with a spool of records and chunks, and the agent's sync pointed at `baseUrl`. */
export class SimDevice {
  readonly id: string;
  readonly sent: SentRecord[] = [];
  readonly ledger: SyncLedger;
  readonly #catalog: Catalog;
  readonly #scheduler: UploadScheduler;

  constructor(o: {
    id: string;
    dir: string;
    baseUrl: string;
    token: string;
    chunks: number;
    chunkBytes: number;
    partBytes: number;
    watch: UploadWatch;
  }) {
    this.id = o.id;
    const spool = join(o.dir, o.id);
    mkdirSync(spool, { recursive: true });
    const dev = new FakeDevice({ deviceId: o.id, spoolDir: spool });
    for (const bytes of [dev.enrol(), dev.openSession()]) {
      const r = decodeRecord(bytes);
      if (!r.ok) throw new Error(`${o.id}: a record of its own does not decode: ${r.reason}`);
      this.sent.push({ signerId: o.id, seq: r.record.chain.seq, bytes });
    }
    for (let i = 0; i < o.chunks; i++) {
      const c = dev.chunk({ bytes: o.chunkBytes });
      this.sent.push({
        signerId: o.id,
        seq: c.seq,
        bytes: c.record,
        chunk: { path: c.path, sha256: c.sha256, bytes: o.chunkBytes },
      });
    }
    this.#catalog = Catalog.open({ path: join(spool, 'catalog.sqlite'), logger: silentLogger() });
    this.ledger = this.#catalog.syncLedger();
    const client = new WatchedTusClient(
      {
        baseUrl: o.baseUrl,
        partBytes: o.partBytes,
        log: silentLogger(),
        signer: dev.signer,
        idleTimeoutMs: 20_000,
      },
      o.watch,
    );
    this.#scheduler = new UploadScheduler({
      spoolDir: spool,
      state: this.ledger,
      client,
      log: silentLogger(),
      concurrency: 1,
      backoffMinMs: 100,
      backoffMaxMs: 2_000,
      enrollToken: o.token,
    });
  }

  /** Records not yet synced (refused ones excepted). */
  pending(): number {
    return this.#scheduler.backlog().records;
  }

  /** Records whose receipt the device verified and kept. */
  synced(): number {
    return this.sent.filter((r) => this.ledger.get(r.signerId, r.seq)?.state === 'synced').length;
  }

  /** The last error of each record not yet synced. */
  lastErrors(): string[] {
    return this.sent.flatMap((r) => {
      const item = this.ledger.get(r.signerId, r.seq);
      return item === undefined || item.state === 'synced'
        ? []
        : [`${this.id}/${r.seq}: ${item.lastError ?? 'none yet'}`];
    });
  }

  refused(): number {
    return this.#scheduler.backlog().refused;
  }

  /** Drains until nothing is pending or `deadlineMs` passes; true when everything is synced. */
  async sync(deadlineMs: number): Promise<boolean> {
    while (Date.now() < deadlineMs) {
      const r = await this.#scheduler.drain({ untilMs: Math.min(deadlineMs, Date.now() + 30_000) });
      if (r.empty) return true;
    }
    return false;
  }

  async close(): Promise<void> {
    await this.#scheduler.close();
    this.#catalog.close();
  }
}

/** Runs `work` over `items` with at most `limit` at once; resolves with every result in order. */
export async function pool<T, R>(
  items: readonly T[],
  limit: number,
  work: (t: T) => Promise<R>,
): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await work(items[i]!);
    }
  });
  await Promise.all(lanes);
  return out;
}
