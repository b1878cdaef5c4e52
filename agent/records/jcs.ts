// RFC 8785 JSON Canonicalization Scheme: the exact bytes a record's payload is made of, so that
// every tool that re-serialises a statement gets the same digest.
import { createHash } from 'node:crypto';
import canonicalizeModule from 'canonicalize';

type Serialize = (value: unknown) => string | undefined;
// The package's types declare `export default` while its code sets `module.exports`, so under NodeNext
// the default import is the function itself: checked once here instead of cast.
const isSerialize = (v: unknown): v is Serialize => typeof v === 'function';
if (!isSerialize(canonicalizeModule))
  throw new TypeError('the canonicalize package did not load as a function');
const canonicalize: Serialize = canonicalizeModule;

/** UTF-8 bytes of the JCS form of a JSON value; throws on values JSON cannot carry. */
export function canonicalBytes(value: unknown): Uint8Array {
  const text = canonicalize(value);
  if (text === undefined) throw new TypeError('value has no JSON form');
  return new TextEncoder().encode(text);
}

/** JCS text of a JSON value. */
export function canonicalText(value: unknown): string {
  return new TextDecoder().decode(canonicalBytes(value));
}

/** Lowercase hex SHA-256 of bytes. */
export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Lowercase hex string test for a SHA-256 digest. */
export function isSha256Hex(value: unknown): value is string {
  return typeof value === 'string' && /^[0-9a-f]{64}$/.test(value);
}
