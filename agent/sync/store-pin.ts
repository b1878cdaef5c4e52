// Which store key the agent trusts. The config pins it (`sync.storeKey`: a PEM file or the key's
// keyid; `sync.storeKeyFile` is the older spelling of the file form), or says explicitly that the
// first key a store presents is kept (`sync.trustOnFirstUse: true`); with neither, sync refuses
// to start, so an agent never takes receipts from a store it was not told about.
import { readFileSync } from 'node:fs';
import type { SyncConfig } from '../config/types.ts';
import { RigcapError } from '../errors.ts';
import { keyIdOf, spkiBlocksOfPem } from '../records/ed25519.ts';
import type { SyncLedger } from './state.ts';

/** How the agent knows the store's key: a pinned PEM, a pinned keyid, or trust on first use. */
export type StorePin = { storeKeyPem: string } | { storeKeyId: string } | { trustOnFirstUse: true };

const keyIdPattern = /^[0-9a-f]{64}$/;

/** The pin from config; RIGCAP_SYNC_STORE_KEY_UNPINNED when there is none. */
export function storePinOf(
  sync: Pick<SyncConfig, 'storeKey' | 'storeKeyFile' | 'trustOnFirstUse'>,
): StorePin {
  if (keyIdPattern.test(sync.storeKey)) return { storeKeyId: sync.storeKey };
  const file = sync.storeKey !== '' ? sync.storeKey : sync.storeKeyFile;
  if (file !== '') return { storeKeyPem: readFileSync(file, 'utf8') };
  if (sync.trustOnFirstUse) return { trustOnFirstUse: true };
  throw new RigcapError(
    'RIGCAP_SYNC_STORE_KEY_UNPINNED',
    "sync has no store key to pin: set sync.storeKey to the store's public key file or keyid, or sync.trustOnFirstUse: true",
  );
}

/** The keyid of a PEM public key (undefined when it holds no single SPKI block). */
function keyIdOfPem(pem: string): string | undefined {
  const blocks = spkiBlocksOfPem(pem);
  return blocks.length === 1 && blocks[0] !== undefined ? keyIdOf(blocks[0]) : undefined;
}

/**
 * Refuses a store whose key is not the pinned one (RIGCAP_SYNC_STORE_KEY_MISMATCH: sync halts). Without a pin
 * the key first seen, kept in the ledger, is the pin; then the presented key is kept.
 */
export function checkStorePin(
  pin: { storeKeyPem?: string; storeKeyId?: string },
  info: { storeId: string; publicKeyPem: string },
  ledger: SyncLedger,
): void {
  const presented = keyIdOfPem(info.publicKeyPem);
  const pinnedId =
    pin.storeKeyId ??
    (pin.storeKeyPem !== undefined
      ? keyIdOfPem(pin.storeKeyPem)
      : ((k) => (k === undefined ? presented : keyIdOfPem(k)))(ledger.meta('store.publicKeyPem')));
  if (presented === undefined || pinnedId !== presented) {
    throw new RigcapError(
      'RIGCAP_SYNC_STORE_KEY_MISMATCH',
      `store ${info.storeId} presents key ${presented ?? '(unreadable)'}, not the pinned ${pinnedId ?? '(unreadable)'}`,
    );
  }
  ledger.setMeta('store.publicKeyPem', info.publicKeyPem);
}
