// Writes accepted records into the store in the spool's own layout, so `rigcap verify DIR` reads
// a store exactly like a spool. Every write is temp file + rename and may be repeated safely.
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { recordFileName } from '../agent/records/predicates.ts';

/** Atomically replaces `path` with `bytes` (fsync file and directory). */
export async function writeFileAtomic(path: string, bytes: Uint8Array | string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  const fh = await open(tmp, 'w', 0o644);
  try {
    await fh.writeFile(bytes);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  const dir = await open(dirname(path), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

/** Paths of the store layout under one root. */
export class StoreLayout {
  readonly root: string;

  constructor(root: string) {
    this.root = root;
  }

  /** records/<signerId>/<seq>.dsse.json, relative. */
  recordPath(signerId: string, seq: number): string {
    return join('records', signerId, recordFileName(seq));
  }

  /** sessions/<sessionId>/<name>, relative. */
  chunkPath(sessionId: string, name: string): string {
    return join('sessions', sessionId, name);
  }

  /** Writes a record under records/. */
  async writeRecord(signerId: string, seq: number, envelopeBytes: Uint8Array): Promise<void> {
    await writeFileAtomic(join(this.root, this.recordPath(signerId, seq)), envelopeBytes);
  }

  /** Writes a chunk's sidecar next to it. */
  async writeSidecar(sessionId: string, name: string, envelopeBytes: Uint8Array): Promise<void> {
    await writeFileAtomic(join(this.root, this.chunkPath(sessionId, `${name}.dsse.json`)), envelopeBytes);
  }

  /** Rewrites session.dsse.json from every session record held, in chain order (one envelope a line). */
  async writeSessionFile(sessionId: string, envelopes: readonly Uint8Array[]): Promise<void> {
    await writeFileAtomic(
      join(this.root, 'sessions', sessionId, 'session.dsse.json'),
      Buffer.concat(envelopes.map((e) => Buffer.from(e))),
    );
  }

  /** Rewrites keys/<signerId>.pub.pem with every key of the signer, oldest first. */
  async writeKeys(signerId: string, pems: readonly string[]): Promise<void> {
    const text = pems.map((p) => (p.endsWith('\n') ? p : `${p}\n`)).join('');
    await writeFileAtomic(join(this.root, 'keys', `${signerId}.pub.pem`), text);
  }
}
