// The device's private key on disk (PKCS#8 PEM, 0600, in a 0700 folder outside the spool) and the
// public keys it has used, exported to the spool as keys/<signerId>.pub.pem (oldest first).
import { chmod, mkdir, readFile, rename, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../log.ts';
import { RigcapError, errnoCode } from '../errors.ts';
import {
  generateKeyPair,
  keyIdOf,
  nodeSigner,
  pemOfSpki,
  spkiBlocksOfPem,
  type Signer,
} from '../records/index.ts';
import { fsyncDir, writeFileAtomic } from '../fsutil/atomic-file.ts';

/** Where a signer's keys live. */
export interface KeyStoreOptions {
  /** Folder with the private key (0700), never inside the spool or store. */
  keysDir: string;
  /** Spool or store root; public keys go to `<rootDir>/keys/<signerId>.pub.pem`. */
  rootDir: string;
  signerId: string;
  log: Logger;
}

/** Private key files and public key export for one signer. */
export class KeyStore {
  readonly keysDir: string;
  readonly rootDir: string;
  readonly signerId: string;
  readonly #log: Logger;

  constructor(options: KeyStoreOptions) {
    this.keysDir = options.keysDir;
    this.rootDir = options.rootDir;
    this.signerId = options.signerId;
    this.#log = options.log.child({ component: 'keys' });
  }

  /** Path of the current private key. */
  get privateKeyPath(): string {
    return join(this.keysDir, `${this.signerId}.key.pem`);
  }

  /** Path of a key staged by an unfinished rotation. */
  get stagedKeyPath(): string {
    return `${this.privateKeyPath}.next`;
  }

  /** Path of the exported public keys. */
  get publicKeysPath(): string {
    return join(this.rootDir, 'keys', `${this.signerId}.pub.pem`);
  }

  /** Whether a private key exists. */
  async exists(): Promise<boolean> {
    return stat(this.privateKeyPath).then(
      () => true,
      () => false,
    );
  }

  /** Loads the current key; refuses a key group or other can read. */
  async load(): Promise<Signer> {
    return this.#loadPem(this.privateKeyPath);
  }

  /** Generates the first key (refuses when one exists) and exports its public key. */
  async create(): Promise<Signer> {
    if (await this.exists())
      throw new RigcapError('RIGCAP_KEY_EXISTS', `${this.privateKeyPath} already exists`);
    await this.#ensureDir();
    const pair = generateKeyPair();
    await writeFileAtomic(this.privateKeyPath, pair.privateKeyPem, { mode: 0o600, onExisting: 'fail' });
    const signer = nodeSigner(pair.privateKeyPem);
    await this.exportPublicKey(signer.publicKeySpki);
    this.#log.info({ keyId: signer.keyId }, 'device key created');
    return signer;
  }

  /** Writes a new key beside the current one; it becomes current only with promoteStaged(). */
  async stage(): Promise<Signer> {
    await this.#ensureDir();
    await unlink(this.stagedKeyPath).catch(ignoreAbsent);
    const pair = generateKeyPair();
    await writeFileAtomic(this.stagedKeyPath, pair.privateKeyPem, { mode: 0o600, onExisting: 'fail' });
    return nodeSigner(pair.privateKeyPem);
  }

  /** The staged key, if a rotation was interrupted. */
  async staged(): Promise<Signer | undefined> {
    try {
      return await this.#loadPem(this.stagedKeyPath);
    } catch (err) {
      if (err instanceof RigcapError && err.code === 'RIGCAP_KEY_MISSING') return undefined;
      throw err;
    }
  }

  /** Makes the staged key current (after the rotation record is committed) and exports it. */
  async promoteStaged(): Promise<Signer> {
    const signer = await this.#loadPem(this.stagedKeyPath);
    await this.exportPublicKey(signer.publicKeySpki);
    await rename(this.stagedKeyPath, this.privateKeyPath);
    await fsyncDir(this.keysDir);
    this.#log.info({ keyId: signer.keyId }, 'device key rotated');
    return signer;
  }

  /** Drops a staged key whose rotation record was never committed. */
  async discardStaged(): Promise<void> {
    await unlink(this.stagedKeyPath).catch(ignoreAbsent);
  }

  /** Every public key exported so far (SPKI DER, oldest first). */
  async publicKeys(): Promise<Uint8Array[]> {
    try {
      return spkiBlocksOfPem(await readFile(this.publicKeysPath, 'utf8'));
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return [];
      throw err;
    }
  }

  /** Appends a public key to keys/<signerId>.pub.pem unless it is there (rewritten atomically). */
  async exportPublicKey(spki: Uint8Array): Promise<void> {
    const existing = await this.publicKeys();
    const id = keyIdOf(spki);
    if (existing.some((k) => keyIdOf(k) === id)) return;
    await mkdir(join(this.rootDir, 'keys'), { recursive: true });
    const text = [...existing, spki].map((k) => pemOfSpki(k)).join('');
    await writeFileAtomic(this.publicKeysPath, text, { mode: 0o644, onExisting: 'replace' });
  }

  async #ensureDir(): Promise<void> {
    await mkdir(this.keysDir, { recursive: true, mode: 0o700 });
    await chmod(this.keysDir, 0o700);
  }

  async #loadPem(path: string): Promise<Signer> {
    let info;
    try {
      info = await stat(path);
    } catch (err) {
      if (errnoCode(err) === 'ENOENT')
        throw new RigcapError('RIGCAP_KEY_MISSING', `no private key at ${path}`);
      throw err;
    }
    if ((info.mode & 0o077) !== 0) {
      throw new RigcapError(
        'RIGCAP_KEY_PERMISSIONS',
        `${path} has mode ${(info.mode & 0o777).toString(8)}; it must be 600`,
      );
    }
    const dirInfo = await stat(this.keysDir);
    if ((dirInfo.mode & 0o077) !== 0) {
      throw new RigcapError(
        'RIGCAP_KEY_PERMISSIONS',
        `${this.keysDir} has mode ${(dirInfo.mode & 0o777).toString(8)}; it must be 700`,
      );
    }
    return nodeSigner(await readFile(path, 'utf8'));
  }
}

/** A file already gone (ENOENT) is what an unlink wants; any other failure is rethrown. */
function ignoreAbsent(err: unknown): void {
  if (errnoCode(err) !== 'ENOENT') throw err;
}
