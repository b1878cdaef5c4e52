// The subject each kind of record signs (DESIGN.md, Signed records).
import { sha256Hex } from './jcs.ts';
import { sessionRoot } from './session-root.ts';
import type { ResourceDescriptor } from './statement.ts';

/** A chunk record's subject: exactly the chunk file name and its SHA-256. */
export function chunkSubject(fileName: string, sha256: string): ResourceDescriptor[] {
  return [{ name: fileName, digest: { sha256 } }];
}

/** A session record's subject: `session-<id>` and the root over its chunk digests (empty at open). */
export function sessionSubject(sessionId: string, chunkDigests: readonly string[]): ResourceDescriptor[] {
  return [{ name: `session-${sessionId}`, digest: { sha256: sessionRoot(chunkDigests) } }];
}

/** A device-key record's subject: the key it introduces or names (its keyid is its SPKI digest). */
export function keySubject(keyId: string): ResourceDescriptor[] {
  return [{ name: `key-${keyId}`, digest: { sha256: keyId } }];
}

/** A custody receipt's subject: the device record taken into custody. */
export function receiptSubject(signer: string, seq: number, payloadSha256: string): ResourceDescriptor[] {
  return [{ name: `record-${signer}-${seq}`, digest: { sha256: payloadSha256 } }];
}

/** A retention action's subject: every chunk it deleted, or the empty digest when none. */
export function retentionSubject(
  deleted: ReadonlyArray<{ session: string; name: string; sha256: string }>,
): ResourceDescriptor[] {
  if (deleted.length === 0)
    return [{ name: 'retention-none', digest: { sha256: sha256Hex(new Uint8Array()) } }];
  return deleted.map((d) => ({ name: `${d.session}/${d.name}`, digest: { sha256: d.sha256 } }));
}
