// The read-only port the verifier reads a spool, store or export through. The filesystem adapter
// lives at the edge (agent/keys/fs-source.ts); MemorySource serves tests and in-memory bundles.

/** Read-only view of a tree of files; paths are relative, `/`-separated, '' is the root. */
export interface FileSource {
  /** Names directly under `dir` (files and folders), sorted; [] when `dir` does not exist. */
  list(dir: string): Promise<string[]>;
  /** Whole file, or undefined when absent. */
  readFile(path: string): Promise<Uint8Array | undefined>;
  /** File size in bytes, or undefined when absent. */
  size(path: string): Promise<number | undefined>;
  /** `length` bytes at `offset`. */
  readRange(path: string, offset: number, length: number): Promise<Uint8Array>;
  /** The file in pieces, for hashing large chunks without holding them. */
  stream(path: string): AsyncIterable<Uint8Array>;
}

/** A FileSource over a map of path → bytes. */
export class MemorySource implements FileSource {
  readonly files: Map<string, Uint8Array>;

  constructor(files: Map<string, Uint8Array>) {
    this.files = files;
  }

  async list(dir: string): Promise<string[]> {
    const prefix = dir === '' ? '' : `${dir}/`;
    const names = new Set<string>();
    for (const path of this.files.keys()) {
      if (!path.startsWith(prefix)) continue;
      const rest = path.slice(prefix.length);
      const name = rest.split('/')[0];
      if (name !== undefined && name !== '') names.add(name);
    }
    return [...names].sort();
  }

  async readFile(path: string): Promise<Uint8Array | undefined> {
    return this.files.get(path);
  }

  async size(path: string): Promise<number | undefined> {
    return this.files.get(path)?.byteLength;
  }

  async readRange(path: string, offset: number, length: number): Promise<Uint8Array> {
    const file = this.files.get(path);
    if (file === undefined || offset + length > file.byteLength)
      throw new RangeError(`short read of ${path} at ${offset}`);
    return file.subarray(offset, offset + length);
  }

  async *stream(path: string): AsyncIterable<Uint8Array> {
    const file = this.files.get(path);
    if (file !== undefined) yield file;
  }
}
