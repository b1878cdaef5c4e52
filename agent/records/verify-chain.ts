// One signer's chain: seq continuity, prev links, signatures, and which key may sign at which seq
// (enrolment, rotation signed by the old key, revocation from a seq), all derived from the chain.
import { inTotoPayloadType, preAuthEncoding } from './dsse.ts';
import { keyIdOf, spkiBlocksOfPem, verifySignature } from './ed25519.ts';
import { recordFileName } from './predicates.ts';
import type { DecodedRecord } from './record-decode.ts';
import type { VerifyFailure } from './verify-codes.ts';

/** Inputs for one signer's chain check. */
export interface SignerChainInput {
  signerId: string;
  /** Decoded records by the seq in their file name. */
  records: ReadonlyMap<number, DecodedRecord>;
  /** Seqs whose file exists but did not decode (already reported; not gaps). */
  undecodable: ReadonlySet<number>;
  /** SPKI DER blocks from keys/<signer>.pub.pem, or undefined when the file is absent. */
  keysFile: readonly Uint8Array[] | undefined;
  /** Keyids trusted as roots (--trust), or undefined when keys in the tree are taken as given. */
  trusted: ReadonlySet<string> | undefined;
}

/** What the chain pass learnt about a signer. */
export interface SignerChainResult {
  failures: VerifyFailure[];
  /** Highest seq with a file. */
  headSeq: number;
}

/** Checks one signer's chain and its keys. */
export function verifySignerChain(input: SignerChainInput): SignerChainResult {
  const { signerId, records, undecodable } = input;
  const failures: VerifyFailure[] = [];
  const fileOf = (seq: number): string => `records/${signerId}/${recordFileName(seq)}`;
  const fail: Fail = (seq, code, reason) => {
    failures.push({ file: fileOf(seq), code, reason });
  };

  const keys = signerKeys(input);
  if (input.keysFile === undefined)
    failures.push({ file: `keys/${signerId}.pub.pem`, code: 'VERIFY_KEYS_FILE', reason: 'missing' });

  const seqs = [...new Set([...records.keys(), ...undecodable])].sort((a, b) => a - b);
  const headSeq = seqs.at(-1) ?? 0;
  for (let seq = 1; seq <= headSeq; seq++) {
    if (!records.has(seq) && !undecodable.has(seq))
      fail(seq, 'VERIFY_CHAIN_GAP', `seq ${seq} is missing from the chain of ${signerId}`);
  }

  for (const seq of seqs) {
    const rec = records.get(seq);
    if (rec === undefined) continue;
    checkLinks(rec, seq, { before: records.get(seq - 1), signerId, fail });
    checkKeyUse(rec, seq, keys, fail);
  }

  for (const [seq, keyId] of keys.signedOk) {
    const hit = keys.revocations.find((r) => r.keyId === keyId && seq >= r.fromSeq && seq !== r.atSeq);
    if (hit !== undefined)
      fail(
        seq,
        'VERIFY_KEY_REVOKED',
        `key ${keyId.slice(0, 12)}… revoked from seq ${hit.fromSeq} (record ${hit.atSeq})`,
      );
  }
  if (input.keysFile !== undefined) {
    for (const keyId of keys.introduced.keys()) {
      if (!keys.known.has(keyId))
        failures.push({
          file: `keys/${signerId}.pub.pem`,
          code: 'VERIFY_KEYS_FILE',
          reason: `lacks key ${keyId.slice(0, 12)}…`,
        });
    }
  }

  for (const [seq, rec] of records) checkTailSubject(rec, seq, fail);
  return { failures, headSeq };
}

type Fail = (seq: number, code: VerifyFailure['code'], reason: string) => void;

/** Which keys a signer has and may use, as the chain is read in seq order. */
interface SignerKeys {
  signerId: string;
  /** Keys from keys/<signer>.pub.pem, by keyid. */
  known: Map<string, Uint8Array>;
  /** Keys the chain itself introduced (enrolment, rotation), by keyid. */
  introduced: Map<string, Uint8Array>;
  /** Trusted roots and the keys they rotated to, or undefined when keys are taken as given. */
  trusted: Set<string> | undefined;
  revocations: Array<{ keyId: string; fromSeq: number; atSeq: number }>;
  /** Seqs whose signature verified, with the key that signed them. */
  signedOk: Map<number, string>;
  /** The key that may sign the next record (null before the first verified one). */
  active: string | null;
}

function signerKeys(input: SignerChainInput): SignerKeys {
  const known = new Map<string, Uint8Array>();
  for (const spki of input.keysFile ?? []) known.set(keyIdOf(spki), spki);
  return {
    signerId: input.signerId,
    known,
    introduced: new Map(),
    trusted: input.trusted === undefined ? undefined : new Set(input.trusted),
    revocations: [],
    signedOk: new Map(),
    active: null,
  };
}

/** The record's place in the chain: file name, signer folder, prev link, keyid. */
function checkLinks(
  rec: DecodedRecord,
  seq: number,
  o: { before: DecodedRecord | undefined; signerId: string; fail: Fail },
): void {
  const { fail } = o;
  const chain = rec.chain;
  if (chain.seq !== seq)
    fail(seq, 'VERIFY_RECORD_NAME', `file is named seq ${seq} but the record says ${chain.seq}`);
  if (chain.deviceId !== o.signerId)
    fail(seq, 'VERIFY_SIGNER_MISMATCH', `record of ${chain.deviceId} under records/${o.signerId}/`);
  if (seq === 1 && chain.prev !== null) fail(seq, 'VERIFY_CHAIN_FORK', 'seq 1 must have prev null');
  if (seq > 1 && o.before !== undefined && chain.prev !== o.before.payloadSha256) {
    fail(
      seq,
      'VERIFY_CHAIN_FORK',
      `prev ${String(chain.prev).slice(0, 12)}… is not the digest of seq ${seq - 1}`,
    );
  }
  if (chain.keyId !== rec.keyId)
    fail(seq, 'VERIFY_KEYID_MISMATCH', 'signature keyid differs from chain.keyId');
}

/** The record's signature, and the key lifecycle it carries (enrol, rotate, revoke). */
function checkKeyUse(rec: DecodedRecord, seq: number, keys: SignerKeys, fail: Fail): void {
  const keyPredicate = rec.name === 'device-key' ? rec.predicate : undefined;
  if (keyPredicate?.action === 'enrol') {
    const spki = spkiBlocksOfPem(keyPredicate.publicKey)[0];
    if (spki === undefined || keyIdOf(spki) !== keyPredicate.keyId || keyPredicate.keyId !== rec.keyId) {
      fail(seq, 'VERIFY_KEYID_MISMATCH', 'enrolment must carry the signing key and its keyid');
    } else {
      keys.introduced.set(keyPredicate.keyId, spki);
    }
  }
  if (!checkSignature(rec, seq, keys, fail)) return;
  keys.signedOk.set(seq, rec.keyId);
  if (keys.trusted !== undefined && !keys.trusted.has(rec.keyId)) {
    fail(seq, 'VERIFY_UNKNOWN_KEY', `key ${rec.keyId.slice(0, 12)}… is not rooted in the --trust keys`);
  }
  if (keys.active === null) {
    // Without an enrolment (chain start missing) the first verified key is taken as the active one.
    keys.active = rec.keyId;
  } else if (rec.keyId !== keys.active) {
    fail(seq, 'VERIFY_KEY_NOT_VALID', `key ${rec.keyId.slice(0, 12)}… is not the active key at seq ${seq}`);
    return;
  }
  if (keyPredicate?.action === 'rotate') {
    const next = spkiBlocksOfPem(keyPredicate.newPublicKey)[0];
    if (keyPredicate.keyId !== rec.keyId || next === undefined || keyIdOf(next) !== keyPredicate.newKeyId) {
      fail(
        seq,
        'VERIFY_KEYID_MISMATCH',
        'rotation must be signed by the old key and carry the new key with its keyid',
      );
    } else {
      keys.introduced.set(keyPredicate.newKeyId, next);
      if (keys.trusted?.has(rec.keyId) === true) keys.trusted.add(keyPredicate.newKeyId);
      keys.active = keyPredicate.newKeyId;
    }
  } else if (keyPredicate?.action === 'revoke') {
    keys.revocations.push({ keyId: keyPredicate.keyId, fromSeq: keyPredicate.invalidFromSeq, atSeq: seq });
  }
}

/** True when a key of the signer verifies the record under the keyid it names. */
function checkSignature(rec: DecodedRecord, seq: number, keys: SignerKeys, fail: Fail): boolean {
  const message = preAuthEncoding(inTotoPayloadType, rec.payload);
  const spki = keys.known.get(rec.keyId) ?? keys.introduced.get(rec.keyId);
  if (spki === undefined) {
    const other = [...keys.known.values(), ...keys.introduced.values()].find((k) =>
      verifySignature(k, message, rec.signature),
    );
    if (other !== undefined)
      fail(
        seq,
        'VERIFY_KEYID_MISMATCH',
        `keyid ${rec.keyId.slice(0, 12)}… is not the key that verifies the signature`,
      );
    else fail(seq, 'VERIFY_UNKNOWN_KEY', `keyid ${rec.keyId.slice(0, 12)}… is not a key of ${keys.signerId}`);
    return false;
  }
  if (!verifySignature(spki, message, rec.signature)) {
    fail(seq, 'VERIFY_BAD_SIGNATURE', `signature by ${rec.keyId.slice(0, 12)}… does not verify`);
    return false;
  }
  return true;
}

/** Heartbeats and event markers name the previous record as their subject. */
function checkTailSubject(rec: DecodedRecord, seq: number, fail: Fail): void {
  if (rec.name !== 'heartbeat' && rec.name !== 'event-marker') return;
  const subject = rec.subject[0];
  if (
    rec.subject.length !== 1 ||
    subject?.name !== `record-${seq - 1}` ||
    subject.digest.sha256 !== rec.chain.prev
  ) {
    fail(seq, 'VERIFY_HEARTBEAT', `subject must be record-${seq - 1} with its payload digest`);
  }
}
