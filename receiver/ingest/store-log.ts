// The store's Merkle log as this process sees it: an in-memory tree over the leaves the state
// holds, caught up from the state before each admission (other receivers on the same database
// append too), and the signed checkpoints over it. Entries are the exact envelope bytes written
// under records/ (README "Store log").
import { formatCheckpoint, signNote } from '../../agent/records/checkpoint.ts';
import { MerkleTree, leafHash } from '../../agent/records/merkle.ts';
import type { StateReader, StateTx } from '../state.ts';
import type { StoreKey } from '../store-key.ts';

/** The log identity written on every checkpoint of a store. */
export function logOrigin(storeId: string): string {
  return `rigcap.store/${storeId}`;
}

/** The local view of the store's log. */
export class StoreLog {
  readonly origin: string;
  readonly #key: StoreKey;
  #tree = new MerkleTree();
  /** Entries known committed; the tree may hold more while an admission is in progress. */
  #committed = 0;

  constructor(key: StoreKey) {
    this.#key = key;
    this.origin = logOrigin(key.storeId);
  }

  /** Entries in the local view, those of an admission in progress included. */
  get size(): number {
    return this.#tree.size;
  }

  /** Entries of the local view known to be committed (what checkpoints for readers cover). */
  get committedSize(): number {
    return this.#committed;
  }

  /** Appends the committed leaves the local view lacks (committed leaves only ever extend the log). */
  async catchUp(state: StateReader): Promise<void> {
    for (const leaf of await state.leavesFrom(this.#tree.size)) this.#tree.append(leaf);
    this.#committed = this.#tree.size;
  }

  /** Appends committed leaves read elsewhere (an admission's prefetch), which must start at `size`. */
  extend(leaves: readonly Uint8Array[]): void {
    if (this.#committed !== this.#tree.size) throw new RangeError('the log view holds uncommitted entries');
    for (const leaf of leaves) this.#tree.append(leaf);
    this.#committed = this.#tree.size;
  }

  /** Drops the local view and reads it again (after a rolled-back admission appended to it). */
  async reload(state: StateReader): Promise<void> {
    this.#tree = new MerkleTree();
    this.#committed = 0;
    await this.catchUp(state);
  }

  /** The admission that appended since the last commit committed. */
  committed(): void {
    this.#committed = this.#tree.size;
  }

  /** The admission that appended since the last commit rolled back: drop its entries. */
  rolledBack(): void {
    this.#tree.truncate(this.#committed);
  }

  /** Appends one entry inside an admission; returns its index. */
  async append(tx: StateTx, entry: Uint8Array): Promise<number> {
    const leaf = leafHash(entry);
    const index = this.#tree.append(leaf);
    await tx.appendLeaf(index, leaf, entry);
    return index;
  }

  /** Tree head over the first `size` entries, hex. */
  rootHex(size: number): string {
    return this.#tree.root(size).toString('hex');
  }

  /** Checkpoint over the first `size` entries as a C2SP signed note. */
  checkpoint(size: number = this.#committed): string {
    const body = formatCheckpoint({ origin: this.origin, size, root: this.#tree.root(size) });
    return signNote(body, { name: this.origin, privateKey: this.#key.privateKey });
  }

  /** Inclusion proof of entry `index` in the tree of `size` entries (base64 hashes). */
  inclusionProof(index: number, size: number): string[] {
    return this.#tree.inclusionProof(index, size).map((h) => h.toString('base64'));
  }

  /** Consistency proof between two sizes (base64 hashes); RangeError outside the local view. */
  consistencyProof(first: number, second: number): string[] {
    return this.#tree.consistencyProof(first, second).map((h) => h.toString('base64'));
  }
}
