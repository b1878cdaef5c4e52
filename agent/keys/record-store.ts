// Where a signer's records land: records/<signerId>/<seq>.dsse.json (the commit point), the chunk
// sidecar and the session's JSON Lines file. The chain head is recovered from disk on start, so a
// restart after kill -9 never reuses a seq or forks.
import { mkdir, open, readFile, readdir, truncate } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Logger } from '../log.ts';
import { RigcapError, errnoCode } from '../errors.ts';
import {
  decodeRecord,
  recordFileName,
  serializeEnvelope,
  type ChainHead,
  type DecodedRecord,
  type SignedRecord,
} from '../records/index.ts';
import { appendDurable, fsyncDir, writeFileAtomic } from '../fsutil/atomic-file.ts';

const recordName = /^([0-9]{12})\.dsse\.json$/;

export interface RecordStoreOptions {
  /** Spool or store root. */
  rootDir: string;
  signerId: string;
  log: Logger;
}

/** Durable storage of one signer's chain and its copies. */
export class RecordStore {
  readonly rootDir: string;
  readonly signerId: string;
  readonly #log: Logger;
  /** Set once the chain folder is known to exist durably (checked on the first commit only). */
  #chainDirReady = false;

  constructor(options: RecordStoreOptions) {
    this.rootDir = options.rootDir;
    this.signerId = options.signerId;
    this.#log = options.log.child({ component: 'records' });
  }

  /** records/<signerId>/ */
  get chainDir(): string {
    return join(this.rootDir, 'records', this.signerId);
  }

  /** Path of the record with `seq`. */
  recordPath(seq: number): string {
    return join(this.chainDir, recordFileName(seq));
  }

  /** Path of a session's JSON Lines file. */
  sessionFilePath(sessionId: string): string {
    return join(this.rootDir, 'sessions', sessionId, 'session.dsse.json');
  }

  /** Seqs present on disk, ascending. */
  async seqs(): Promise<number[]> {
    let names: string[];
    try {
      names = await readdir(this.chainDir);
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return [];
      throw err;
    }
    return names
      .map((n) => recordName.exec(n)?.[1])
      .filter((s): s is string => s !== undefined)
      .map(Number)
      .sort((a, b) => a - b);
  }

  /** Reads and decodes the record with `seq`. */
  async read(seq: number): Promise<DecodedRecord> {
    const bytes = new Uint8Array(await readFile(this.recordPath(seq)));
    const decoded = decodeRecord(bytes);
    if (!decoded.ok)
      throw new RigcapError('RIGCAP_CHAIN_CORRUPT', `${this.recordPath(seq)}: ${decoded.reason}`);
    return decoded.record;
  }

  /** The chain head on disk: the highest seq and its payload digest (null for an empty chain). */
  async recoverHead(): Promise<{ head: ChainHead | null; record: DecodedRecord | undefined }> {
    const seq = (await this.seqs()).at(-1);
    if (seq === undefined) return { head: null, record: undefined };
    const record = await this.read(seq);
    return { head: { seq, payloadSha256: record.payloadSha256 }, record };
  }

  /** Commits a record to the chain; fails if its seq is already taken (the commit point). */
  async commit(record: SignedRecord): Promise<Uint8Array> {
    if (!this.#chainDirReady) {
      await ensureDirDurable(this.chainDir);
      this.#chainDirReady = true;
    }
    const bytes = serializeEnvelope(record.envelope);
    const outcome = await writeFileAtomic(this.recordPath(record.seq), bytes, { onExisting: 'fail' });
    if (outcome === 'exists')
      throw new RigcapError(
        'RIGCAP_CHAIN_CORRUPT',
        `seq ${record.seq} already exists under ${this.chainDir}; another writer shares this chain`,
      );
    return bytes;
  }

  /** Writes `<chunk>.dsse.json` byte-identical to the chain copy. */
  async writeSidecar(chunkPath: string, bytes: Uint8Array): Promise<void> {
    await writeFileAtomic(`${chunkPath}.dsse.json`, bytes, { onExisting: 'replace' });
  }

  /** Appends one session envelope line, first cutting any torn last line from a crash. */
  async appendSession(sessionId: string, bytes: Uint8Array): Promise<void> {
    const path = this.sessionFilePath(sessionId);
    const dir = join(this.rootDir, 'sessions', sessionId);
    await ensureDirDurable(dir);
    const existed = await this.#cutTornLine(path);
    await appendDurable(path, bytes);
    // A new file's name is durable only once its folder is fsynced (the open line must survive).
    if (!existed) await fsyncDir(dir);
  }

  /** Whether the session file already holds these exact bytes as a line. */
  async sessionHasLine(sessionId: string, bytes: Uint8Array): Promise<boolean> {
    try {
      const text = await readFile(this.sessionFilePath(sessionId));
      return text.includes(Buffer.from(bytes));
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return false;
      throw err;
    }
  }

  /** Every record of the chain, ascending (used on start to rebuild session state). */
  async *readAll(): AsyncIterable<DecodedRecord> {
    for (const seq of await this.seqs()) yield await this.read(seq);
  }

  /** Cuts a torn last line (reading only the last byte unless one is torn); false when no file. */
  async #cutTornLine(path: string): Promise<boolean> {
    let handle;
    try {
      handle = await open(path, 'r');
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return false;
      throw err;
    }
    let keep: number | undefined;
    try {
      const { size } = await handle.stat();
      if (size === 0) return true;
      const last = Buffer.alloc(1);
      await handle.read(last, 0, 1, size - 1);
      if (last[0] === 0x0a) return true;
      const text = await readFile(path);
      keep = text.lastIndexOf(0x0a) + 1;
    } finally {
      await handle.close();
    }
    this.#log.warn({ file: path, keepBytes: keep }, 'cutting a torn session line left by a crash');
    await truncate(path, keep);
    return true;
  }
}

/** mkdir -p, then fsyncs the parent of every folder it made so the new names survive power loss. */
async function ensureDirDurable(dir: string): Promise<void> {
  const first = await mkdir(dir, { recursive: true });
  if (first === undefined) return;
  for (let made = dir; ; made = dirname(made)) {
    await fsyncDir(dirname(made));
    if (made === first) return;
  }
}
