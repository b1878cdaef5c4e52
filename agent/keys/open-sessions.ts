// The sessions a signer has opened and not yet closed, with the chunks each has signed so far (what
// a close record's Merkle root is computed over). Rebuilt from the chain when a sealer opens.
import type { DecodedRecord } from '../records/index.ts';

/** One open session as its records state it. */
export interface OpenSession {
  rigId: string;
  startNs: string;
  chunkDigests: Map<number, string>;
  /** Chain seq of each chunk's record, by chunk index. */
  chunkSeqs: Map<number, number>;
}

/** Open sessions by id, and the one new chunks go to. */
export class OpenSessions {
  readonly #sessions = new Map<string, OpenSession>();
  #current: string | null = null;

  /** The open session new chunks go to, if any. */
  get current(): string | null {
    return this.#current;
  }

  /** Ids of sessions opened but not closed. */
  ids(): string[] {
    return [...this.#sessions.keys()];
  }

  get(sessionId: string): OpenSession | undefined {
    return this.#sessions.get(sessionId);
  }

  /** A session whose open record is committed; it becomes the current one. */
  open(sessionId: string, rigId: string, startNs: string): void {
    this.#sessions.set(sessionId, { rigId, startNs, chunkDigests: new Map(), chunkSeqs: new Map() });
    this.#current = sessionId;
  }

  /** A session whose close record is committed. */
  close(sessionId: string): void {
    this.#sessions.delete(sessionId);
    if (this.#current === sessionId) this.#current = null;
  }

  /** A chunk record committed for an open session (ignored for one not open). */
  addChunk(sessionId: string, chunkIndex: number, sha256: string, seq: number): void {
    this.#sessions.get(sessionId)?.chunkDigests.set(chunkIndex, sha256);
    this.#sessions.get(sessionId)?.chunkSeqs.set(chunkIndex, seq);
  }

  /** The digest and chain seq an open session's chunk was signed with, if it was. */
  signedChunk(sessionId: string, chunkIndex: number): { sha256: string; seq: number } | undefined {
    const session = this.#sessions.get(sessionId);
    const sha256 = session?.chunkDigests.get(chunkIndex);
    const seq = session?.chunkSeqs.get(chunkIndex);
    return sha256 === undefined || seq === undefined ? undefined : { sha256, seq };
  }

  /** Applies one record read back from the chain, in chain order. */
  replay(rec: DecodedRecord): void {
    if (rec.name === 'session') {
      const p = rec.predicate;
      if (p.phase === 'open') this.open(p.sessionId, p.rigId, p.startNs);
      else this.close(p.sessionId);
    } else if (rec.name === 'capture-chunk') {
      const p = rec.predicate;
      this.addChunk(p.sessionId, p.chunkIndex, rec.subject[0]?.digest.sha256 ?? '', rec.chain.seq);
    }
  }
}
