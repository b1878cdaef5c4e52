// At start: held frames of a process that ended without blurring them can never be opened (their
// key died with it). Their ciphertext is deleted and each session's loss becomes gaps: how many
// frames of which stream, over which capture window, under the cause `deid_held_lost`.
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { errnoCode } from '../../errors.ts';
import type { Logger } from '../../log.ts';
import { holdingRoot } from './holding-area.ts';
import { readHeader } from './sealed-frame.ts';

/** One session's lost held frames of one stream. */
export interface HeldGap {
  readonly stream: string;
  readonly count: number;
  /** Capture window of the frames whose header was readable (undefined when none was). */
  readonly startNs: bigint | undefined;
  readonly endNs: bigint | undefined;
}

/** The gap record for lost held frames: `{ startNs, endNs, cause }` with the count in the cause. */
export function heldGapRecord(
  gap: Pick<HeldGap, 'stream' | 'count' | 'startNs' | 'endNs'>,
  fallbackNs: bigint,
): { startNs: string; endNs: string; cause: string } {
  return {
    startNs: String(gap.startNs ?? fallbackNs),
    endNs: String(gap.endNs ?? fallbackNs),
    cause: `deid_held_lost: ${gap.count} frame${gap.count === 1 ? '' : 's'} of ${gap.stream} held for de-id and never blurred`,
  };
}

/** Deletes every session folder under `<spool>/holding`; returns the frames each held, per stream. */
export async function discardHeldFrames(spoolDir: string, log: Logger): Promise<Map<string, HeldGap[]>> {
  const root = holdingRoot(spoolDir);
  const out = new Map<string, HeldGap[]>();
  let sessions: string[];
  try {
    sessions = await readdir(root);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return out;
    throw err;
  }
  for (const sessionId of sessions) {
    const dir = join(root, sessionId);
    const byStream = new Map<
      string,
      { count: number; startNs: bigint | undefined; endNs: bigint | undefined }
    >();
    const names = await readdir(dir).catch((err: unknown) => {
      if (errnoCode(err) !== 'ENOENT' && errnoCode(err) !== 'ENOTDIR') throw err;
      return [] as string[];
    });
    for (const name of names) {
      // A temp file is a frame that was being held when the process ended: lost too, and counted.
      let stream = '(unreadable)';
      let captureNs: bigint | undefined;
      try {
        const header = readHeader(await readFile(join(dir, name)));
        stream = header.stream;
        captureNs = header.captureNs;
      } catch (err) {
        // Torn before its header was written: counted without a stream or time. A file that cannot
        // be read is counted the same way, and the reason is logged.
        if (errnoCode(err) !== undefined) log.warn({ err, file: name }, 'held frame cannot be read');
      }
      const s = byStream.get(stream) ?? { count: 0, startNs: undefined, endNs: undefined };
      s.count++;
      if (captureNs !== undefined) {
        if (s.startNs === undefined || captureNs < s.startNs) s.startNs = captureNs;
        if (s.endNs === undefined || captureNs > s.endNs) s.endNs = captureNs;
      }
      byStream.set(stream, s);
    }
    await rm(dir, { recursive: true, force: true });
    const gaps = [...byStream].map(([stream, s]) => ({ stream, ...s }));
    if (gaps.length === 0) continue;
    out.set(sessionId, gaps);
    for (const g of gaps)
      log.warn(
        {
          sessionId,
          stream: g.stream,
          frames: g.count,
          startNs: g.startNs?.toString(),
          endNs: g.endNs?.toString(),
          cause: 'deid_held_lost',
        },
        'held frames of an ended process deleted unread; recorded as a gap',
      );
  }
  return out;
}
