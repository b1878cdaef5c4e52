// Public surface of the pure record layer (no I/O): build, sign, decode and verify rigcap records.
export { canonicalBytes, canonicalText, sha256Hex, isSha256Hex } from './jcs.ts';
export {
  inTotoPayloadType,
  preAuthEncoding,
  serializeEnvelope,
  parseEnvelope,
  toBase64,
  fromCanonicalBase64,
  type DsseEnvelope,
  type DsseSignature,
} from './dsse.ts';
export {
  generateKeyPair,
  nodeSigner,
  keyIdOf,
  verifySignature,
  nobleSign,
  nobleVerify,
  noblePublicKey,
  seedOfPrivateKey,
  rawOfSpki,
  spkiOfRaw,
  spkiBlocksOfPem,
  pemOfSpki,
  type Signer,
  type Ed25519KeyPair,
} from './ed25519.ts';
export * from './predicates.ts';
export { statementType, buildStatement, type Statement, type ResourceDescriptor } from './statement.ts';
export { predicateSchemas } from './schemas.ts';
export {
  predicateProblems,
  upgradePredicate,
  predicateMigrations,
  type PredicateMigration,
  type PredicateMigrations,
} from './validate.ts';
export {
  ChainState,
  buildRecord,
  previousRecordSubject,
  type ChainLink,
  type ChainHead,
  type ChainContext,
  type SignedRecord,
} from './chain.ts';
export { sessionRoot } from './session-root.ts';
export { chunkSubject, sessionSubject, keySubject, receiptSubject, retentionSubject } from './subjects.ts';
export {
  decodeRecord,
  isRecordOf,
  sessionIdOf,
  type DecodedRecord,
  type DecodedRecordOf,
  type DecodeResult,
} from './record-decode.ts';
export { verifyTree, type VerifyReport, type VerifyOptions } from './verify.ts';
export { verifyBundle } from './verify-bundle.ts';
export { verifyCodes, type VerifyCode, type VerifyFailure } from './verify-codes.ts';
export { MemorySource, type FileSource } from './verify-source.ts';
export {
  DropWindows,
  gapMergeNs,
  kindOfDropCause,
  isSensorStream,
  isImageStream,
  calibrationCovers,
  uncalibratedStreams,
  mergeGaps,
  sessionGaps,
  type DropWindow,
  type CloseGapInputs,
} from './gaps.ts';
export { formatDuration, formatBytes, formatPercent, describeGap } from './gap-text.ts';
export {
  gatherSession,
  intotoBundle,
  gapsOfSession,
  contextOfSession,
  type SessionRecords,
} from './exports.ts';
export { provDocument } from './export-prov.ts';
export { readChains } from './read-chains.ts';
export { sessionFacts, type SessionFacts } from './session-facts.ts';
export { datasetCard, croissantRai } from './export-card.ts';
