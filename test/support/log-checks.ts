// Checks of a receiver's log from outside, over HTTP: its signed checkpoint and the consistency
// proof between two of them.
import { createPublicKey } from 'node:crypto';
import { openNote, parseCheckpoint } from '../../agent/records/checkpoint.ts';
import { verifyConsistency } from '../../agent/records/merkle.ts';

/** A receiver as the checks see it (a ReceiverHandle fits). */
export interface LogSource {
  readonly url: string;
  readonly storeId: string;
  readonly key: { readonly publicKeyPem: string };
}

/** The latest checkpoint, its signature checked against the store key. */
export async function verifiedCheckpoint(on: LogSource): Promise<{ size: number; root: Buffer }> {
  const note = await (await fetch(`${on.url}/v1/log/checkpoint`)).text();
  const origin = `rigcap.store/${on.storeId}`;
  const body = openNote(note, { name: origin, publicKey: createPublicKey(on.key.publicKeyPem) });
  const cp = body === undefined ? undefined : parseCheckpoint(body);
  if (cp === undefined) throw new Error('checkpoint does not verify');
  return { size: cp.size, root: cp.root };
}

/** Whether the receiver at `baseUrl` proves `after` an append-only extension of `before`. */
export async function provesConsistent(
  baseUrl: string,
  before: { size: number; root: Buffer },
  after: { size: number; root: Buffer },
): Promise<boolean> {
  const proof = (await (
    await fetch(`${baseUrl}/v1/log/consistency?first=${before.size}&second=${after.size}`)
  ).json()) as { proof: string[] };
  return verifyConsistency({
    firstSize: before.size,
    firstRoot: before.root,
    secondSize: after.size,
    secondRoot: after.root,
    proof: proof.proof.map((p) => Buffer.from(p, 'base64')),
  });
}
