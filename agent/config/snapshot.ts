// The config as a session record carries it: every key, secrets replaced by a marker. Its JCS
// SHA-256 is the `producer.configDigest` of the session's records, so a snapshot proves itself.
import { canonicalText, sha256Hex } from '../records/jcs.ts';
import type { RigcapConfig } from './types.ts';

/** Written in place of a secret that was set (an empty one stays empty). */
export const removedSecret = '(removed)';

/** Keys whose values are secrets, wherever they appear (the enrolment token, and any future one). */
const secretKey = /(token|secret|password|passphrase|privatekey)$/i;

/** A JSON copy of the config with secrets removed. */
export function configSnapshot(config: Readonly<RigcapConfig>): Record<string, unknown> {
  return strip(JSON.parse(JSON.stringify(config)) as unknown) as Record<string, unknown>;
}

/** Lowercase hex SHA-256 of the snapshot's JCS bytes. */
export function snapshotDigest(snapshot: Readonly<Record<string, unknown>>): string {
  return sha256Hex(new TextEncoder().encode(canonicalText(snapshot)));
}

function strip(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(strip);
  if (typeof value !== 'object' || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = secretKey.test(k) && typeof v === 'string' && v !== '' ? removedSecret : strip(v);
  }
  return out;
}
