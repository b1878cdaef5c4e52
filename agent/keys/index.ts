// Public surface of the record I/O edge: keys on disk, the chain on disk, the sealer the pipeline
// calls and the verifier's filesystem adapter.
export { KeyStore, type KeyStoreOptions } from './key-store.ts';
export { RecordStore, type RecordStoreOptions } from './record-store.ts';
export {
  RecordSealer,
  systemClock,
  type RecordSealerOptions,
  type SealResult,
  type SealerClock,
  type ChunkPredicateFields,
} from './record-sealer.ts';
export { FsSource } from './fs-source.ts';
export { writeFileAtomic, fsyncDir, appendDurable } from '../fsutil/atomic-file.ts';
