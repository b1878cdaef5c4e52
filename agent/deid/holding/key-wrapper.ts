// Where a session's holding-area data key lives. The software path keeps it in this process's
// memory only, so held frames die with the process; a TPM or kernel keyring adapter could wrap it
// so that a restart might unwrap it again, but none is shipped.
import { randomBytes } from 'node:crypto';

/** A session's AES-256 data key and, when the wrapper can seal it, its wrapped form for disk. */
export interface SessionDataKey {
  readonly key: Buffer;
  /** Bytes that only the wrapper can turn back into `key`; undefined when the key must never leave memory. */
  readonly wrapped: Uint8Array | undefined;
}

/** A port for sealing data keys (TPM, keyring); the agent ships only the in-memory one. */
export interface KeyWrapper {
  /** Names the wrapper in status and lineage (`memory`, `tpm2`, …). */
  readonly kind: string;
  /** A fresh 32-byte data key for one session. */
  newDataKey(): Promise<SessionDataKey>;
  /** The data key from its wrapped form; rejects when it cannot be recovered. */
  unwrap(wrapped: Uint8Array): Promise<Buffer>;
}

/** Keeps data keys in memory only: nothing that could decrypt a held frame is ever written. */
export class MemoryKeyWrapper implements KeyWrapper {
  readonly kind = 'memory';

  newDataKey(): Promise<SessionDataKey> {
    return Promise.resolve({ key: randomBytes(32), wrapped: undefined });
  }

  unwrap(_wrapped: Uint8Array): Promise<Buffer> {
    return Promise.reject(
      new Error('in-memory data keys are never wrapped; held frames of a past process are unrecoverable'),
    );
  }
}
