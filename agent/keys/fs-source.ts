// The verifier's FileSource over a directory on disk (the I/O edge of agent/records/verify.ts).
import { createReadStream } from 'node:fs';
import { open, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { errnoCode } from '../errors.ts';
import type { FileSource } from '../records/index.ts';

/** Read-only FileSource rooted at `rootDir`. */
export class FsSource implements FileSource {
  readonly rootDir: string;

  constructor(rootDir: string) {
    this.rootDir = rootDir;
  }

  async list(dir: string): Promise<string[]> {
    try {
      return (await readdir(join(this.rootDir, dir))).sort();
    } catch (err) {
      if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ENOTDIR') return [];
      throw err;
    }
  }

  async readFile(path: string): Promise<Uint8Array | undefined> {
    try {
      return new Uint8Array(await readFile(join(this.rootDir, path)));
    } catch (err) {
      if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'EISDIR') return undefined;
      throw err;
    }
  }

  async size(path: string): Promise<number | undefined> {
    try {
      return (await stat(join(this.rootDir, path))).size;
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return undefined;
      throw err;
    }
  }

  async readRange(path: string, offset: number, length: number): Promise<Uint8Array> {
    const handle = await open(join(this.rootDir, path), 'r');
    try {
      const buf = new Uint8Array(length);
      const { bytesRead } = await handle.read(buf, 0, length, offset);
      if (bytesRead !== length)
        throw new RangeError(`short read of ${path} at ${offset}: ${bytesRead} of ${length}`);
      return buf;
    } finally {
      await handle.close();
    }
  }

  async *stream(path: string): AsyncIterable<Uint8Array> {
    for await (const piece of createReadStream(join(this.rootDir, path), { highWaterMark: 1 << 20 }))
      yield piece as Buffer;
  }
}
