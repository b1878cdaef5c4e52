// Finds records in the spool that sync has not seen yet and queues them (with the chunk each chunk
// record names). The spool layout is the contract; the scan never writes to the spool.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeRecord } from '../records/record-decode.ts';
import type { Logger } from '../log.ts';
import type { SyncLedger } from './state.ts';
import { isErrno } from '../errors.ts';

const recordFile = /^([0-9]{12})\.dsse\.json$/;
const safeName = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** Queues every unseen record under `spoolDir/records/`; returns how many were added. */
export async function scanSpool(options: {
  spoolDir: string;
  state: SyncLedger;
  log: Logger;
  /** Sync priority of a topic (0 first … 9 last); streams not in the config get 5. */
  streamPriority: (topic: string) => number | undefined;
}): Promise<number> {
  const { spoolDir, state, log } = options;
  let signers: string[];
  try {
    signers = await readdir(join(spoolDir, 'records'));
  } catch (err) {
    // No records folder yet: nothing signed to queue.
    if (!isErrno(err, 'ENOENT')) throw err;
    return 0;
  }
  let added = 0;
  for (const signerId of signers.filter((s) => safeName.test(s)).sort()) {
    const files = (await readdir(join(spoolDir, 'records', signerId))).sort();
    for (const file of files) {
      const m = recordFile.exec(file);
      if (m === null) continue;
      const seq = Number(m[1]);
      if (state.has(signerId, seq)) continue;
      const recordPath = join('records', signerId, file);
      const decoded = decodeRecord(await readFile(join(spoolDir, recordPath)));
      if (!decoded.ok) {
        log.warn({ file: recordPath, reason: decoded.reason }, 'record not queued: unreadable');
        continue;
      }
      const { record } = decoded;
      if (record.chain.deviceId !== signerId || record.chain.seq !== seq) {
        log.warn({ file: recordPath }, 'record not queued: its chain fields do not match its file name');
        continue;
      }
      let blobPath: string | null = null;
      let blobSha256: string | null = null;
      let blobBytes = 0;
      let priority = record.name === 'device-key' ? -1 : 0;
      if (record.name === 'capture-chunk') {
        const subject = record.subject[0];
        const sessionId = String(record.predicate['sessionId']);
        if (subject === undefined || !safeName.test(subject.name) || !safeName.test(sessionId)) continue;
        blobPath = join('sessions', sessionId, subject.name);
        blobSha256 = subject.digest.sha256;
        blobBytes = Number(record.predicate['bytes']);
        const streams = (record.predicate['streams'] as Array<{ topic: string }> | undefined) ?? [];
        const priorities = streams.map((s) => options.streamPriority(s.topic) ?? 5);
        priority = priorities.length === 0 ? 5 : Math.min(...priorities);
      }
      if (
        state.add({
          signerId,
          seq,
          predicate: record.name,
          recordPath,
          blobPath,
          blobSha256,
          blobBytes,
          priority,
        })
      )
        added += 1;
    }
  }
  return added;
}
