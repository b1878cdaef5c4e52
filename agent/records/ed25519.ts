// Ed25519 keys and signatures. node:crypto signs (fast, native); @noble/ed25519 is the portable
// implementation for runtimes without native Ed25519. Both give identical signatures (RFC 8032
// signing is deterministic). Key ids are lowercase hex SHA-256 of the SPKI DER.
import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign as nodeSign,
  verify as nodeVerify,
  type KeyObject,
} from 'node:crypto';
import * as noble from '@noble/ed25519';
import { sha256Hex } from './jcs.ts';

/** DER prefix of an Ed25519 SubjectPublicKeyInfo; the raw 32-byte key follows. */
const spkiPrefix = Buffer.from('302a300506032b6570032100', 'hex');
/** DER prefix of an Ed25519 PKCS#8 private key; the 32-byte seed follows. */
const pkcs8Prefix = Buffer.from('302e020100300506032b657004220420', 'hex');

/** Anything that signs a message with one Ed25519 key. */
export interface Signer {
  readonly keyId: string;
  /** SPKI DER of the public key. */
  readonly publicKeySpki: Uint8Array;
  sign(message: Uint8Array): Uint8Array;
}

/** An Ed25519 key pair as held in memory by the key store. */
export interface Ed25519KeyPair {
  /** PKCS#8 PEM of the private key. */
  privateKeyPem: string;
  /** SPKI PEM of the public key. */
  publicKeyPem: string;
  keyId: string;
}

/** keyid = lowercase hex SHA-256 of the public key's SPKI DER. */
export function keyIdOf(spkiDer: Uint8Array): string {
  return sha256Hex(spkiDer);
}

/** Generates a fresh key pair. */
export function generateKeyPair(): Ed25519KeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const spki = publicKey.export({ format: 'der', type: 'spki' });
  return {
    privateKeyPem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    publicKeyPem: publicKey.export({ format: 'pem', type: 'spki' }).toString(),
    keyId: keyIdOf(spki),
  };
}

/** A node:crypto signer for a PKCS#8 PEM private key. */
export function nodeSigner(privateKeyPem: string): Signer {
  const key = createPrivateKey(privateKeyPem);
  if (key.asymmetricKeyType !== 'ed25519')
    throw new TypeError(`expected an ed25519 key, got ${key.asymmetricKeyType}`);
  const spki = new Uint8Array(createPublicKey(key).export({ format: 'der', type: 'spki' }));
  return {
    keyId: keyIdOf(spki),
    publicKeySpki: spki,
    sign: (message) => new Uint8Array(nodeSign(null, message, key)),
  };
}

/** The 32-byte seed inside an Ed25519 PKCS#8 PEM (what @noble/ed25519 calls the secret key). */
export function seedOfPrivateKey(privateKeyPem: string): Uint8Array {
  const der = createPrivateKey(privateKeyPem).export({ format: 'der', type: 'pkcs8' });
  if (der.byteLength !== 48 || !der.subarray(0, 16).equals(pkcs8Prefix))
    throw new TypeError('not an Ed25519 PKCS#8 key');
  return new Uint8Array(der.subarray(16));
}

/** Raw 32-byte public key from its SPKI DER, or undefined when it is not an Ed25519 SPKI. */
export function rawOfSpki(spkiDer: Uint8Array): Uint8Array | undefined {
  const der = Buffer.from(spkiDer);
  if (der.byteLength !== 44 || !der.subarray(0, 12).equals(spkiPrefix)) return undefined;
  return new Uint8Array(der.subarray(12));
}

/** SPKI DER of a raw 32-byte Ed25519 public key. */
export function spkiOfRaw(raw: Uint8Array): Uint8Array {
  return new Uint8Array(Buffer.concat([spkiPrefix, raw]));
}

/** Portable signature with @noble/ed25519 (WebCrypto SHA-512; no native Ed25519 needed). */
export async function nobleSign(seed: Uint8Array, message: Uint8Array): Promise<Uint8Array> {
  return noble.signAsync(message, seed);
}

/** Portable verification with @noble/ed25519. */
export async function nobleVerify(
  rawPublicKey: Uint8Array,
  message: Uint8Array,
  signature: Uint8Array,
): Promise<boolean> {
  return noble.verifyAsync(signature, message, rawPublicKey);
}

/** Portable public key (raw 32 bytes) of a seed. */
export async function noblePublicKey(seed: Uint8Array): Promise<Uint8Array> {
  return noble.getPublicKeyAsync(seed);
}

const publicKeyCache = new Map<string, KeyObject>();

/** Verifies an Ed25519 signature with node:crypto; false for malformed keys or signatures. */
export function verifySignature(spkiDer: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (signature.byteLength !== 64) return false;
  const id = keyIdOf(spkiDer);
  let key = publicKeyCache.get(id);
  try {
    if (key === undefined) {
      key = createPublicKey({ key: Buffer.from(spkiDer), format: 'der', type: 'spki' });
      // Bounded: a verifier sees a handful of keys per signer.
      if (publicKeyCache.size < 4096) publicKeyCache.set(id, key);
    }
    return nodeVerify(null, message, key, signature);
  } catch (err) {
    // A key that does not parse or is not Ed25519 verifies nothing; node:crypto names those ERR_OSSL_*,
    // ERR_CRYPTO_* or ERR_INVALID_ARG_*.
    const code = (err as { code?: unknown } | null)?.code;
    if (typeof code !== 'string' || !/^ERR_(OSSL|CRYPTO|INVALID_ARG)/.test(code)) throw err;
    return false;
  }
}

/** SPKI DER blocks of every `PUBLIC KEY` in a PEM text, in file order. */
export function spkiBlocksOfPem(pem: string): Uint8Array[] {
  const blocks: Uint8Array[] = [];
  const re = /-----BEGIN PUBLIC KEY-----([\s\S]*?)-----END PUBLIC KEY-----/g;
  for (let m = re.exec(pem); m !== null; m = re.exec(pem)) {
    blocks.push(new Uint8Array(Buffer.from((m[1] ?? '').replace(/\s+/g, ''), 'base64')));
  }
  return blocks;
}

/** SPKI PEM text of an SPKI DER. */
export function pemOfSpki(spkiDer: Uint8Array): string {
  const b64 = Buffer.from(spkiDer).toString('base64');
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN PUBLIC KEY-----\n${lines.join('\n')}\n-----END PUBLIC KEY-----\n`;
}
