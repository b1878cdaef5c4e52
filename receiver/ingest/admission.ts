// The checks a record passes before the store takes custody of it: signature with a key valid at
// its seq (or enrolment with a one-time token), key changes, chain continuity with the neighbours
// already held, and a chunk record's blob. The state-reading checks run inside the admission
// transaction, so what they saw still holds when the record is committed.
import { createHash } from 'node:crypto';
import { RigcapError } from '../../agent/errors.ts';
import { fromCanonicalBase64, inTotoPayloadType, preAuthEncoding } from '../../agent/records/dsse.ts';
import { keyIdOf, pemOfSpki, spkiBlocksOfPem, verifySignature } from '../../agent/records/ed25519.ts';
import type { ResourceDescriptor } from '../../agent/records/statement.ts';
import type { BlobStore } from '../blob-store.ts';
import { isSafeSegment, type RecordView } from '../record-view.ts';
import type { KeyRow, StateReader, StateTx } from '../state.ts';
import type { ReceiptBlob } from './store-chain.ts';

const chunkName = /^chunk-[0-9]{6}\.mcap$/;

/** A refusal with a stable code. */
export function refuse(
  code: ConstructorParameters<typeof RigcapError>[0],
  message: string,
  details?: Record<string, unknown>,
): RigcapError {
  return new RigcapError(code, message, details === undefined ? {} : { details });
}

/** SHA-256 (hex) of an enrolment token, so the token itself is never stored. */
export function tokenDigest(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** The SPKI DER in a device-key `publicKey` field (SPKI PEM, or base64 of the DER). */
function spkiOfText(text: string): Uint8Array | undefined {
  const blocks = spkiBlocksOfPem(text);
  if (blocks.length === 1) return blocks[0];
  return fromCanonicalBase64(text.trim());
}

/** A key to add with the record, and the token its enrolment uses up. */
export interface Enrolment {
  row: KeyRow;
  tokenSha256: string;
}

function signatureOf(view: RecordView): { message: Uint8Array; sig: Uint8Array } {
  return {
    message: preAuthEncoding(inTotoPayloadType, view.payloadBytes),
    sig: fromCanonicalBase64(view.envelope.signatures[0]?.sig ?? '') ?? new Uint8Array(),
  };
}

/** A first device-key `enrol` record: its own key signs it, and it must present a valid token. */
function enrolment(view: RecordView, enrolled: boolean, options: AuthoriseOptions): Enrolment {
  const { tokens, enrollToken } = options;
  const { chain, predicate: p } = view;
  if (enrolled || view.predicateName !== 'device-key' || p['action'] !== 'enrol') {
    throw refuse(
      'RIGCAP_RECEIVER_UNKNOWN_DEVICE',
      enrolled
        ? `key ${chain.keyId} is not a key of ${chain.deviceId}`
        : `device ${chain.deviceId} is not enrolled`,
    );
  }
  const spki = spkiOfText(String(p['publicKey']));
  if (spki === undefined || keyIdOf(spki) !== chain.keyId || p['keyId'] !== chain.keyId)
    throw refuse('RIGCAP_RECEIVER_BAD_RECORD', 'the enrol record must carry the public key of chain.keyId');
  if (options.signatureChecked !== true && !verifies(spki, view))
    throw refuse(
      'RIGCAP_RECEIVER_BAD_SIGNATURE',
      `signature of ${chain.deviceId} seq ${chain.seq} does not verify`,
    );
  const digest = enrollToken === undefined ? undefined : tokenDigest(enrollToken);
  if (digest === undefined || !(tokens.has(digest) || digest === options.registeredToken))
    throw refuse(
      'RIGCAP_RECEIVER_ENROLL_REFUSED',
      `device ${chain.deviceId} presented no valid enrolment token`,
    );
  return {
    row: {
      keyid: chain.keyId,
      signerId: chain.deviceId,
      publicPem: pemOfSpki(spki),
      validFromSeq: chain.seq,
      revokedFromSeq: null,
    },
    tokenSha256: digest,
  };
}

function verifies(spki: Uint8Array, view: RecordView): boolean {
  const { message, sig } = signatureOf(view);
  return verifySignature(spki, message, sig);
}

/** What `authorise` checks a record against. */
export interface AuthoriseOptions {
  tokens: ReadonlySet<string>;
  enrollToken: string | undefined;
  /** Digest of the token the device registry holds for this device id (receiver/auth/device-directory.ts). */
  registeredToken?: string | undefined;
  /** The signature was already verified with the key chain.keyId names (see `verifiedEarly`). */
  signatureChecked?: boolean;
}

/**
 * Verifies the signature before the admission lock, where it costs no time inside it: true when
 * it verifies with the key chain.keyId names (held for this signer, or carried by an enrol record).
 * A keyid is the digest of its key, so the answer holds whatever the lock later finds; false leaves
 * the check, and the refusal it gives, to `authorise`.
 */
export async function verifiedEarly(
  view: RecordView,
  keyOf: (keyid: string) => Promise<KeyRow | undefined>,
): Promise<boolean> {
  const { chain, predicate: p } = view;
  const known = await keyOf(chain.keyId);
  if (known !== undefined) {
    const spki = spkiBlocksOfPem(known.publicPem)[0];
    return known.signerId === chain.deviceId && spki !== undefined && verifies(spki, view);
  }
  if (view.predicateName !== 'device-key' || p['action'] !== 'enrol') return false;
  const spki = spkiOfText(String(p['publicKey']));
  return spki !== undefined && keyIdOf(spki) === chain.keyId && verifies(spki, view);
}

/**
 * Finds the key for the record and checks the signature; on a device's first device-key record
 * with a valid token, returns the enrolment to commit with it.
 */
export async function authorise(
  state: StateReader,
  view: RecordView,
  options: AuthoriseOptions,
): Promise<Enrolment | undefined> {
  const { chain } = view;
  const known = await state.key(chain.keyId);
  if (known === undefined || known.signerId !== chain.deviceId)
    return enrolment(view, await state.isEnrolled(chain.deviceId), options);
  if (chain.seq < known.validFromSeq || (known.revokedFromSeq !== null && chain.seq >= known.revokedFromSeq))
    throw refuse(
      'RIGCAP_RECEIVER_KEY_REVOKED',
      `key ${chain.keyId} is not valid at ${chain.deviceId} seq ${chain.seq}`,
    );
  const spki = spkiBlocksOfPem(known.publicPem)[0];
  if (options.signatureChecked !== true && (spki === undefined || !verifies(spki, view)))
    throw refuse(
      'RIGCAP_RECEIVER_BAD_SIGNATURE',
      `signature of ${chain.deviceId} seq ${chain.seq} does not verify`,
    );
  return undefined;
}

/** Commits an enrolment: the key, and the token used up (refused when another record used it first). */
export async function enrol(tx: StateTx, e: Enrolment): Promise<void> {
  await tx.addKey(e.row);
  if (!(await tx.consumeToken(e.tokenSha256, e.row.signerId)))
    throw refuse('RIGCAP_RECEIVER_ENROLL_REFUSED', 'the enrolment token was used already');
}

/** Rotation adds the named key from the next seq; revocation closes a key's range. */
export async function applyKeyChange(tx: StateTx, view: RecordView): Promise<void> {
  if (view.predicateName !== 'device-key') return;
  const p = view.predicate;
  if (p['action'] === 'rotate') {
    const spki = spkiOfText(String(p['newPublicKey']));
    if (spki === undefined || keyIdOf(spki) !== p['newKeyId'])
      throw refuse('RIGCAP_RECEIVER_BAD_RECORD', 'rotate must carry the public key of newKeyId');
    await tx.addKey({
      keyid: keyIdOf(spki),
      signerId: view.chain.deviceId,
      publicPem: pemOfSpki(spki),
      validFromSeq: view.chain.seq + 1,
      revokedFromSeq: null,
    });
    // The old key signs nothing after its rotation record.
    await tx.revokeKey(view.chain.keyId, view.chain.seq + 1);
  } else if (p['action'] === 'revoke') {
    const target = await tx.key(String(p['keyId']));
    if (target === undefined || target.signerId !== view.chain.deviceId)
      throw refuse('RIGCAP_RECEIVER_BAD_RECORD', 'revoke names a key this device does not hold');
    await tx.revokeKey(target.keyid, Number(p['invalidFromSeq']));
  }
}

/**
 * Neighbours already held must link to this record (records may arrive out of order; a mismatch is
 * a fork). Returns the links this record's receipt confirms: to the held predecessor, and from a
 * held successor whose link was pending until now (README "Store log").
 */
export async function checkChain(state: StateReader, view: RecordView): Promise<ResourceDescriptor[]> {
  const { chain } = view;
  const before = chain.seq > 1 ? await state.record(chain.deviceId, chain.seq - 1) : undefined;
  if (before !== undefined && before.payloadSha256 !== chain.prev) {
    throw refuse(
      'RIGCAP_RECEIVER_CHAIN_FORK',
      `${chain.deviceId} seq ${chain.seq} does not follow the held seq ${chain.seq - 1}`,
    );
  }
  const after = await state.record(chain.deviceId, chain.seq + 1);
  if (after !== undefined && after.prev !== view.payloadSha256) {
    throw refuse(
      'RIGCAP_RECEIVER_CHAIN_FORK',
      `the held seq ${chain.seq + 1} of ${chain.deviceId} does not follow this record`,
    );
  }
  const links: ResourceDescriptor[] = [];
  if (before !== undefined)
    links.push({
      name: recordSubjectName(chain.deviceId, before.seq),
      digest: { sha256: before.payloadSha256 },
    });
  if (after !== undefined)
    links.push({
      name: recordSubjectName(chain.deviceId, after.seq),
      digest: { sha256: after.payloadSha256 },
    });
  return links;
}

/** The subject name a receipt gives a device record. */
export function recordSubjectName(signerId: string, seq: number): string {
  return `record-${signerId}-${seq}`;
}

/** A chunk record's subject must name a blob the store holds with that digest. */
export async function checkSubject(blobs: BlobStore, view: RecordView): Promise<ReceiptBlob | undefined> {
  const sessionId = view.predicate['sessionId'];
  if (sessionId !== undefined && sessionId !== null && !isSafeSegment(sessionId))
    throw refuse('RIGCAP_RECEIVER_BAD_NAME', 'sessionId is not a safe name');
  if (view.predicateName !== 'capture-chunk') return undefined;
  const [subject, ...rest] = view.subject;
  if (subject === undefined || rest.length > 0)
    throw refuse('RIGCAP_RECEIVER_BAD_RECORD', 'a chunk record has exactly one subject');
  if (!chunkName.test(subject.name))
    throw refuse(
      'RIGCAP_RECEIVER_BAD_NAME',
      `chunk name ${JSON.stringify(subject.name)} is not chunk-NNNNNN.mcap`,
    );
  const size = await blobs.size(subject.digest.sha256);
  if (size === undefined)
    throw refuse('RIGCAP_RECEIVER_BLOB_MISSING', `blob ${subject.digest.sha256} is not stored`);
  const declared = view.predicate['bytes'];
  if (typeof declared === 'string' && declared !== String(size))
    throw refuse(
      'RIGCAP_RECEIVER_DIGEST_MISMATCH',
      `the record says ${declared} bytes, the stored blob has ${size}`,
    );
  return { name: subject.name, sha256: subject.digest.sha256, bytes: String(size) };
}
