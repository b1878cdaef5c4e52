// What a sealer checks on open besides the chain: the head record's copies (a chunk's sidecar, a
// session file's last line) that a crash may have left unwritten, and the boot id records carry.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../log.ts';
import { chunkFileName, type DecodedRecord } from '../records/index.ts';
import type { RecordStore } from './record-store.ts';

/** Rewrites the head record's sidecar or session line when a crash left it missing or stale. */
export async function repairHeadCopies(store: RecordStore, head: DecodedRecord, log: Logger): Promise<void> {
  if (head.name === 'capture-chunk') {
    const p = head.predicate;
    const chunkPath = join(
      store.rootDir,
      'sessions',
      p.sessionId,
      head.subject[0]?.name ?? chunkFileName(p.chunkIndex),
    );
    const sidecar = await readFile(`${chunkPath}.dsse.json`).catch(() => undefined);
    if (sidecar === undefined || !sidecar.equals(Buffer.from(head.bytes))) {
      await store.writeSidecar(chunkPath, head.bytes);
      log.warn({ chunk: chunkPath }, 'rewrote a sidecar missing after a crash');
    }
  } else if (head.name === 'session') {
    const p = head.predicate;
    if (!(await store.sessionHasLine(p.sessionId, head.bytes))) {
      await store.appendSession(p.sessionId, head.bytes);
      log.warn({ sessionId: p.sessionId }, 'appended a session record missing after a crash');
    }
  }
}

/** The kernel's boot id, or 'unknown' where it cannot be read. */
export async function readBootId(): Promise<string> {
  return (await readFile('/proc/sys/kernel/random/boot_id', 'utf8').catch(() => 'unknown')).trim();
}
