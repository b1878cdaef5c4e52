// Stable failure codes of `rigcap verify`. Tools match on these: rename one only deliberately.

/** Every verifier failure code and what it means. */
export const verifyCodes = {
  VERIFY_MALFORMED:
    'a record file is not a DSSE envelope in the exact form rigcap writes (JSON, base64, JCS payload)',
  VERIFY_SCHEMA: 'the statement or predicate does not match its JSON Schema, or its predicateType is unknown',
  VERIFY_DIGEST_MISMATCH: 'a chunk file does not hash (or size) to the digest its record signs',
  VERIFY_BAD_SIGNATURE: 'the Ed25519 signature over the DSSE PAE does not verify',
  VERIFY_KEYID_MISMATCH:
    'the keyid named is not the key that verifies the signature, or differs from chain.keyId',
  VERIFY_UNKNOWN_KEY: "the signing key is not among the signer's keys, or not rooted in the --trust keys",
  VERIFY_KEY_NOT_VALID:
    'the key signed outside its valid seq range (before enrolment/rotation to it, or after rotation away)',
  VERIFY_KEY_REVOKED: 'the key was revoked from a seq at or before this record',
  VERIFY_CHAIN_GAP: "a seq of the signer's chain is missing",
  VERIFY_CHAIN_FORK: "a record's prev is not the digest of the record before it",
  VERIFY_RECORD_NAME: "a record file's name does not match its chain.seq",
  VERIFY_SIGNER_MISMATCH: 'a record under records/<signer>/ names another signer',
  VERIFY_CHUNK_MISSING: 'a signed chunk is absent and no retention-action record deleted it',
  VERIFY_UNSIGNED_CHUNK: 'a chunk file has no record in the chain',
  VERIFY_SUBJECT_NAME: "a chunk's file name differs from the subject name its record signs",
  VERIFY_SIDECAR_MISMATCH: "a chunk's .dsse.json sidecar is missing or not byte-identical to the chain copy",
  VERIFY_SESSION_FILE:
    "session.dsse.json does not hold the session's open/close records byte-identical to the chain, open first and close last",
  VERIFY_SESSION_ROOT:
    "a session's close record does not match the Merkle root and count of its signed chunks, or chunks fall outside open..close",
  VERIFY_SESSION_UNCLOSED: "a session without a close record that is not the device's current session",
  VERIFY_CALIBRATION_MISMATCH:
    'calibration/<sensor>.yaml attachments in the MCAP do not match the calibration digests in the record',
  VERIFY_HEARTBEAT: 'a heartbeat or marker does not name the previous record and its digest',
  VERIFY_TAIL:
    "a copy (sidecar, session line, custody receipt) names a record beyond the chain's end: the tail was cut",
  VERIFY_RECEIPT_MISMATCH: "a custody receipt names a record digest that differs from the device's record",
  VERIFY_RECEIPT_REGION:
    "a custody receipt's store region (or its absence) is not among the allowedRegions the chunk record's policy signs",
  VERIFY_RELEASE_ROOT:
    "a dataset release's Merkle root or chunk count does not match the chunk digests it names",
  VERIFY_RELEASE_CHUNK_MISSING: 'a chunk a dataset release names is not among the blobs (--blobs)',
  VERIFY_LOG_PROOF:
    "a bundle's log proof does not place its record in a checkpoint the store signed, or a receipted chunk has none",
  VERIFY_NO_RECEIPT: 'a chunk record in a bundle that carries log proofs has no custody receipt',
  VERIFY_KEYS_FILE: 'keys/<signer>.pub.pem is missing, unreadable or lacks a key the chain introduced',
} as const;

export type VerifyCode = keyof typeof verifyCodes;

/** One verifier finding; `file` is relative to the verified root. */
export interface VerifyFailure {
  file: string;
  code: VerifyCode;
  reason: string;
}
