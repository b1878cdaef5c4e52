// Publishes the store's log as C2SP tlog-tiles after admission, apart from it: a timer catches the
// local tree up with the state's leaves (any receiver on the database may have appended) and, when
// it grew, writes the tiles and entry bundles that changed since the published checkpoint and
// then the new signed checkpoint. A failure is counted, logged and retried with a growing pause;
// admission never waits on it.
//
// Several receivers may publish to one bucket. Each pass runs under a lock (a PostgreSQL advisory
// lock for the fleet store) from a snapshot of the state taken before it, reads the published
// checkpoint and never writes a smaller one. A tile's bytes follow from its path alone (a full
// tile never changes; a partial tile names its width, `.p/<W>`), so two writers of one path write
// the same bytes.
import { createPublicKey, type KeyObject } from 'node:crypto';
import { RigcapError } from '../../agent/errors.ts';
import type { Logger } from '../../agent/log.ts';
import { formatCheckpoint, openNote, parseCheckpoint, signNote } from '../../agent/records/checkpoint.ts';
import { leafHash } from '../../agent/records/merkle.ts';
import { TileTree } from '../../agent/records/tlog-tiles-tree.ts';
import {
  encodeEntryBundle,
  entryBundlePath,
  TILE_WIDTH,
  tilePath,
  tilesChanged,
  type TileRef,
} from '../../agent/records/tlog-tiles.ts';
import { logOrigin } from '../ingest/store-log.ts';
import type { LogEntryRow, StateReader } from '../state.ts';
import type { StoreKey } from '../store-key.ts';
import type { TileSink } from './sinks.ts';

/** The largest entry a tile bundle can carry (its length is a uint16). */
export const MAX_TILE_ENTRY_BYTES = 0xffff;

/** Runs fn while no other publisher of the same log does; false (fn not run) when one does. */
export type PublishLock = (fn: () => Promise<void>) => Promise<boolean>;

/** Entries the state logged before it kept entry bytes, by leaf hash (hex). */
export type LegacyEntries = () => Promise<ReadonlyMap<string, Buffer>>;

export interface TilePublisherOptions {
  state: StateReader;
  key: StoreKey;
  sink: TileSink;
  log: Logger;
  /** Default: none (one publisher per store, as the embedded store is). */
  lock?: PublishLock;
  /** Where to find entries of leaves logged before the state kept them. */
  legacyEntries?: LegacyEntries;
  /** Pause between passes (default 1000 ms); after failures it doubles up to `maxBackoffMs`. */
  intervalMs?: number;
  maxBackoffMs?: number;
}

/** What the publisher has done, for logs and tests. */
export interface TilePublisherStats {
  /** Size of the last checkpoint this process saw published (by it or another instance). */
  publishedSize: number;
  passes: number;
  failures: number;
  lastError: string | null;
}

/** Publishes the store log's tiles on a timer; `publishNow` runs one pass. */
export class TilePublisher {
  readonly #o: TilePublisherOptions;
  readonly #origin: string;
  readonly #publicKey: KeyObject;
  readonly #tree = new TileTree();
  #legacy: Promise<ReadonlyMap<string, Buffer>> | undefined;
  #published = -1;
  #passes = 0;
  #failures = 0;
  #consecutive = 0;
  #lastError: string | null = null;
  #timer: NodeJS.Timeout | undefined;
  #queue: Promise<unknown> = Promise.resolve();
  #stopped = false;

  constructor(options: TilePublisherOptions) {
    this.#o = options;
    this.#origin = logOrigin(options.key.storeId);
    this.#publicKey = createPublicKey(options.key.publicKeyPem);
  }

  get stats(): TilePublisherStats {
    return {
      publishedSize: Math.max(this.#published, 0),
      passes: this.#passes,
      failures: this.#failures,
      lastError: this.#lastError,
    };
  }

  /** Starts publishing: one pass now (catch-up at start-up), then one per interval. */
  start(): void {
    this.#schedule(0);
  }

  /** Stops the timer and waits for a pass in progress. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    await this.#queue.catch(() => undefined);
  }

  /** One pass: publishes the state's log as it is now; resolves to the published size. */
  publishNow(): Promise<number> {
    const run = this.#queue.then(() => this.#pass());
    this.#queue = run.catch(() => undefined);
    return run;
  }

  #schedule(delayMs: number): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => void this.#tick(), delayMs);
    this.#timer.unref();
  }

  async #tick(): Promise<void> {
    try {
      await this.publishNow();
      this.#consecutive = 0;
    } catch (err) {
      this.#failures++;
      this.#consecutive++;
      this.#lastError = err instanceof Error ? err.message : String(err);
      this.#o.log.error(
        { err, code: (err as { code?: unknown }).code, failures: this.#failures, where: this.#o.sink.where },
        'publishing the log tiles failed; retrying',
      );
    }
    const interval = this.#o.intervalMs ?? 1000;
    this.#schedule(
      this.#consecutive === 0
        ? interval
        : Math.min(this.#o.maxBackoffMs ?? 30_000, interval * 2 ** this.#consecutive),
    );
  }

  async #pass(): Promise<number> {
    this.#passes++;
    for (const leaf of await this.#o.state.leavesFrom(this.#tree.size)) this.#tree.append(leaf);
    const size = this.#tree.size;
    if (size === this.#published) return size;
    const lock = this.#o.lock ?? (async (fn: () => Promise<void>) => (await fn(), true));
    // Held elsewhere: that instance publishes; the next pass here checks what it left.
    if (!(await lock(() => this.#publish(size)))) return this.stats.publishedSize;
    return this.#published;
  }

  /** The size of the published checkpoint when it is this store's, signed by its key; else -1. */
  async #publishedSize(): Promise<number> {
    const note = await this.#o.sink.read('checkpoint');
    if (note === undefined) return -1;
    const body = openNote(Buffer.from(note).toString('utf8'), {
      name: this.#origin,
      publicKey: this.#publicKey,
    });
    const cp = body === undefined ? undefined : parseCheckpoint(body);
    if (cp === undefined || cp.origin !== this.#origin) {
      this.#o.log.warn(
        { where: this.#o.sink.where },
        'the published checkpoint is not this store’s: rewriting',
      );
      return -1;
    }
    return cp.size;
  }

  async #publish(size: number): Promise<void> {
    const from = await this.#publishedSize();
    if (from >= size) {
      this.#published = from;
      return;
    }
    if (size !== this.#tree.size)
      throw new RangeError(`publishing ${size} entries of a tree of ${this.#tree.size}`);
    // An empty log gets a checkpoint too, so an auditor can start from the store's first day.
    const tiles = tilesChanged(Math.max(from, 0), size);
    for (const tile of tiles) {
      const path = tilePath(tile.level, tile.index, tile.width);
      if (tile.level > 0) {
        await this.#o.sink.write(path, this.#tree.encodeTile(tile));
        continue;
      }
      const { leaves, bundle } = await this.#level0(tile);
      await this.#o.sink.write(entryBundlePath(tile.index, tile.width), bundle);
      await this.#o.sink.write(path, leaves);
    }
    const body = formatCheckpoint({ origin: this.#origin, size, root: this.#tree.root() });
    await this.#o.sink.write(
      'checkpoint',
      Buffer.from(signNote(body, { name: this.#origin, privateKey: this.#o.key.privateKey }), 'utf8'),
    );
    this.#published = size;
    this.#o.log.debug({ from, size, tiles: tiles.length, where: this.#o.sink.where }, 'log tiles published');
  }

  /** One level-0 tile (its leaf hashes) and its entry bundle, each entry checked against its leaf. */
  async #level0(tile: TileRef): Promise<{ leaves: Buffer; bundle: Buffer }> {
    const lo = tile.index * TILE_WIDTH;
    const rows = await this.#o.state.entriesFrom(lo, tile.width);
    const entries: Buffer[] = [];
    for (let i = 0; i < tile.width; i++) entries.push(await this.#entry(rows[i], lo + i));
    return { leaves: Buffer.concat(rows.map((r) => r.leaf)), bundle: encodeEntryBundle(entries) };
  }

  async #entry(row: LogEntryRow | undefined, index: number): Promise<Buffer> {
    if (row === undefined || row.index !== index)
      throw new RigcapError('RIGCAP_LOG_TILES_ENTRY_MISSING', `log entry ${index} is not in the state`);
    const leaf = row.leaf;
    const entry = row.entry ?? (await this.#legacyEntry(leaf));
    if (entry === undefined || !leafHash(entry).equals(leaf))
      throw new RigcapError(
        'RIGCAP_LOG_TILES_ENTRY_MISSING',
        `the bytes of log entry ${index} are not kept, or do not hash to its leaf`,
      );
    if (entry.length > MAX_TILE_ENTRY_BYTES)
      throw new RigcapError(
        'RIGCAP_LOG_TILES_ENTRY_TOO_LARGE',
        `log entry ${index} is ${entry.length} bytes; a tlog-tiles entry is at most ${MAX_TILE_ENTRY_BYTES}`,
      );
    return entry;
  }

  async #legacyEntry(leaf: Buffer): Promise<Buffer | undefined> {
    if (this.#o.legacyEntries === undefined) return undefined;
    this.#legacy ??= this.#o.legacyEntries().catch((err: unknown) => {
      // Read again on the next pass rather than keep the failure.
      this.#legacy = undefined;
      throw err;
    });
    return (await this.#legacy).get(leaf.toString('hex'));
  }
}
