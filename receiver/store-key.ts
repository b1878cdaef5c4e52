// The store's Ed25519 key: created on first start at `--key` (0600), refused when it would live
// inside the data directory, since anyone who can read the store must not be able to sign for it.
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { dirname, relative, resolve, isAbsolute } from 'node:path';
import { RigcapError, errnoCode } from '../agent/errors.ts';
import { generateKeyPair, nodeSigner, pemOfSpki, type Signer } from '../agent/records/ed25519.ts';

/** The store's signing identity. */
export interface StoreKey {
  /** Signer id of the store's chain (records/<storeId>/). */
  readonly storeId: string;
  readonly signer: Signer;
  readonly privateKey: KeyObject;
  readonly publicKeyPem: string;
}

/** Default key path for a data directory: `DIR.secrets/store.key`. */
export function defaultStoreKeyPath(dataDir: string): string {
  return `${resolve(dataDir).replace(/\/+$/, '')}.secrets/store.key`;
}

function isInside(dir: string, path: string): boolean {
  const rel = relative(resolve(dir), resolve(path));
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

/** Loads the store key at `keyFile`, creating it (0600, parent 0700) when absent; never inside `dataDir`. */
export async function loadOrCreateStoreKey(options: {
  keyFile: string;
  dataDir?: string;
}): Promise<StoreKey> {
  const { keyFile, dataDir } = options;
  if (dataDir !== undefined && isInside(dataDir, keyFile)) {
    throw new RigcapError(
      'RIGCAP_STORE_KEY_UNSAFE',
      `store key ${keyFile} is inside the data directory ${dataDir}`,
    );
  }
  let pem: string;
  try {
    const st = await stat(keyFile);
    if ((st.mode & 0o077) !== 0)
      throw new RigcapError(
        'RIGCAP_STORE_KEY_UNSAFE',
        `store key ${keyFile} is readable by others (mode ${(st.mode & 0o777).toString(8)})`,
      );
    pem = await readFile(keyFile, 'utf8');
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT') throw err;
    await mkdir(dirname(keyFile), { recursive: true, mode: 0o700 });
    pem = generateKeyPair().privateKeyPem;
    await writeFile(keyFile, pem, { mode: 0o600, flag: 'wx' });
    await chmod(keyFile, 0o600);
  }
  const signer = nodeSigner(pem);
  return {
    storeId: `store-${signer.keyId.slice(0, 16)}`,
    signer,
    privateKey: createPrivateKey(pem),
    publicKeyPem: pemOfSpki(signer.publicKeySpki),
  };
}
