// C2SP tlog-checkpoint bodies wrapped in C2SP signed notes (Ed25519). The receiver signs one after
// every append; the agent keeps the last one it saw and demands consistency with the next.
import { createHash, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';

/** The three mandatory checkpoint lines. */
export interface Checkpoint {
  /** Unique log identity, e.g. `rigcap.store/<storeId>`. */
  readonly origin: string;
  readonly size: number;
  readonly root: Buffer;
}

/** Ed25519 signature type byte in C2SP note key hashes and verifier keys. */
const ED25519_TYPE = 0x01;

/** Raw 32-byte Ed25519 public key of a KeyObject (private or public). */
export function rawEd25519PublicKey(key: KeyObject): Buffer {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  const jwk = pub.export({ format: 'jwk' });
  if (jwk.crv !== 'Ed25519' || typeof jwk.x !== 'string') throw new TypeError('not an Ed25519 key');
  return Buffer.from(jwk.x, 'base64url');
}

/** Four-byte key hash: SHA-256(name || 0x0A || type || pubkey)[:4]. */
export function noteKeyHash(name: string, publicKey: KeyObject): Buffer {
  return createHash('sha256')
    .update(`${name}\n`)
    .update(Buffer.of(ED25519_TYPE))
    .update(rawEd25519PublicKey(publicKey))
    .digest()
    .subarray(0, 4);
}

/** The C2SP verifier key string `<name>+<hex keyhash>+<base64(type || pubkey)>`. */
export function noteVerifierKey(name: string, publicKey: KeyObject): string {
  const encoded = Buffer.concat([Buffer.of(ED25519_TYPE), rawEd25519PublicKey(publicKey)]).toString('base64');
  return `${name}+${noteKeyHash(name, publicKey).toString('hex')}+${encoded}`;
}

/** Checkpoint body text, ending with a newline. */
export function formatCheckpoint(cp: Checkpoint): string {
  if (cp.origin.length === 0 || /[\n\u2014]/.test(cp.origin))
    throw new TypeError('checkpoint origin must be one line');
  return `${cp.origin}\n${cp.size}\n${cp.root.toString('base64')}\n`;
}

/** Parses a checkpoint body (extension lines after the third are ignored). */
export function parseCheckpoint(body: string): Checkpoint | undefined {
  const lines = body.split('\n');
  const [origin, sizeText, rootText] = lines;
  if (origin === undefined || sizeText === undefined || rootText === undefined || !body.endsWith('\n'))
    return undefined;
  if (!/^(0|[1-9][0-9]*)$/.test(sizeText)) return undefined;
  const root = Buffer.from(rootText, 'base64');
  if (root.length !== 32 || root.toString('base64') !== rootText) return undefined;
  const size = Number(sizeText);
  if (!Number.isSafeInteger(size)) return undefined;
  return { origin, size, root };
}

/** Signs `body` as a C2SP signed note with one Ed25519 signature line. */
export function signNote(body: string, signer: { name: string; privateKey: KeyObject }): string {
  if (!body.endsWith('\n')) throw new TypeError('note text must end with a newline');
  const sig = sign(null, Buffer.from(body, 'utf8'), signer.privateKey);
  const blob = Buffer.concat([noteKeyHash(signer.name, signer.privateKey), sig]).toString('base64');
  return `${body}\n\u2014 ${signer.name} ${blob}\n`;
}

/** Verifies a signed note against one known key; returns the note body, or undefined when unsigned by it. */
export function openNote(note: string, verifier: { name: string; publicKey: KeyObject }): string | undefined {
  const split = note.lastIndexOf('\n\n');
  if (split < 0) return undefined;
  const body = note.slice(0, split + 1);
  const sigLines = note
    .slice(split + 2)
    .split('\n')
    .filter((l) => l.length > 0);
  const wantHash = noteKeyHash(verifier.name, verifier.publicKey);
  for (const line of sigLines) {
    const m = /^\u2014 (\S+) ([A-Za-z0-9+/=]+)$/.exec(line);
    if (m === null || m[1] !== verifier.name) continue;
    const blob = Buffer.from(m[2] ?? '', 'base64');
    if (blob.length !== 68 || !blob.subarray(0, 4).equals(wantHash)) continue;
    if (verify(null, Buffer.from(body, 'utf8'), verifier.publicKey, blob.subarray(4))) return body;
  }
  return undefined;
}
