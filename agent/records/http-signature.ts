// HTTP Message Signatures (RFC 9421) as the device and the store use them: Ed25519 over the
// request's method, path, Content-Digest (RFC 9530, sha-256) and the tus headers it carries, with a
// created time and a nonce, so the store can refuse unsigned, altered and replayed requests. Both
// sides build the signature base here; this module does no I/O.
import { createHash } from 'node:crypto';
import { verifySignature, type Signer } from './ed25519.ts';

/** Label of the one signature a device sends. */
export const signatureLabel = 'rigcap';
/** Components every signed request covers. */
export const requiredComponents = ['@method', '@path', 'content-digest'] as const;
/** Request headers that must be covered whenever they are present (they steer what is stored). */
export const coveredWhenPresent = [
  'upload-offset',
  'upload-length',
  'upload-metadata',
  'upload-checksum',
] as const;

/** `sha-256=:<base64>:` of a body (RFC 9530). */
export function contentDigestOf(body: Uint8Array): string {
  return contentDigestFromSha256(createHash('sha256').update(body).digest());
}

/** Content-Digest from an already computed SHA-256 of the body. */
export function contentDigestFromSha256(digest: Uint8Array): string {
  return `sha-256=:${Buffer.from(digest).toString('base64')}:`;
}

/** The SHA-256 a Content-Digest header names, or undefined when it names none. */
export function sha256OfContentDigest(header: string): Buffer | undefined {
  const m = /(?:^|,)\s*sha-256=:([A-Za-z0-9+/]{43}=):/.exec(header);
  return m?.[1] === undefined ? undefined : Buffer.from(m[1], 'base64');
}

/** What a request looks like to the signature: lower-case header names. */
export interface SignableRequest {
  method: string;
  /** Path of the target URI (no query). */
  path: string;
  headers: Readonly<Record<string, string | undefined>>;
}

export interface SignatureParams {
  components: string[];
  created: number;
  nonce: string;
  keyid: string;
  alg: string;
}

function serializeParams(p: SignatureParams): string {
  const list = p.components.map((c) => `"${c}"`).join(' ');
  return `(${list});created=${p.created};nonce="${p.nonce}";keyid="${p.keyid}";alg="${p.alg}"`;
}

/** The RFC 9421 signature base; undefined when a covered header is missing. */
export function signatureBase(req: SignableRequest, p: SignatureParams): string | undefined {
  const lines: string[] = [];
  for (const c of p.components) {
    let value: string | undefined;
    if (c === '@method') value = req.method.toUpperCase();
    else if (c === '@path') value = req.path;
    else value = req.headers[c]?.trim();
    if (value === undefined || /[\r\n]/.test(value)) return undefined;
    lines.push(`"${c}": ${value}`);
  }
  lines.push(`"@signature-params": ${serializeParams(p)}`);
  return lines.join('\n');
}

/**
 * Headers that sign a request: Content-Digest (when not already set), Signature-Input, Signature.
 * `created` is Unix seconds; the nonce must be fresh for every request.
 */
export function signRequest(
  req: SignableRequest,
  o: { signer: Signer; nonce: string; created: number; bodySha256?: Uint8Array },
): Record<string, string> {
  const headers: Record<string, string | undefined> = { ...req.headers };
  const out: Record<string, string> = {};
  if (headers['content-digest'] === undefined) {
    const digest =
      o.bodySha256 === undefined ? contentDigestOf(new Uint8Array()) : contentDigestFromSha256(o.bodySha256);
    headers['content-digest'] = digest;
    out['content-digest'] = digest;
  }
  const components: string[] = [...requiredComponents];
  for (const h of coveredWhenPresent) if (headers[h] !== undefined) components.push(h);
  const params: SignatureParams = {
    components,
    created: o.created,
    nonce: o.nonce,
    keyid: o.signer.keyId,
    alg: 'ed25519',
  };
  const base = signatureBase({ ...req, headers }, params);
  if (base === undefined) throw new TypeError('a covered header holds a line break');
  const sig = o.signer.sign(new TextEncoder().encode(base));
  out['signature-input'] = `${signatureLabel}=${serializeParams(params)}`;
  out['signature'] = `${signatureLabel}=:${Buffer.from(sig).toString('base64')}:`;
  return out;
}

/** Why a signature was refused; `unsigned` when the request carries none at all. */
export type SignatureProblem = 'unsigned' | 'malformed' | 'stale' | 'uncovered' | 'bad-signature';

const paramsPattern =
  /^rigcap=\(((?:"[a-z0-9@-]+"(?: "[a-z0-9@-]+")*)?)\);created=(\d{1,12});nonce="([A-Za-z0-9_-]{16,64})";keyid="([0-9a-f]{64})";alg="ed25519"$/;
const signaturePattern = /^rigcap=:([A-Za-z0-9+/]{86}==):$/;

/** Parses our Signature-Input (one `rigcap` signature, parameters in our order). */
export function parseSignatureInput(header: string): SignatureParams | undefined {
  const m = paramsPattern.exec(header.trim());
  if (m === null) return undefined;
  const components = (m[1] ?? '')
    .split(' ')
    .filter((c) => c !== '')
    .map((c) => c.slice(1, -1));
  return { components, created: Number(m[2]), nonce: m[3] ?? '', keyid: m[4] ?? '', alg: 'ed25519' };
}

/** Result of checking a request's signature (the body's digest is checked by the caller). */
export type SignatureCheck =
  | { ok: true; params: SignatureParams }
  | { ok: false; problem: SignatureProblem; reason: string; keyid?: string };

/**
 * Checks the shape, the freshness (|now − created| ≤ windowS) and the coverage of a request's
 * signature, then the Ed25519 signature itself with the key `publicKeyOf` gives for its keyid.
 */
export async function checkRequestSignature(
  req: SignableRequest,
  o: {
    nowS: number;
    windowS: number;
    publicKeyOf: (keyid: string) => Promise<Uint8Array | undefined> | Uint8Array | undefined;
  },
): Promise<SignatureCheck> {
  const input = req.headers['signature-input'];
  const signature = req.headers['signature'];
  if (input === undefined && signature === undefined) {
    return { ok: false, problem: 'unsigned', reason: 'request carries no Signature/Signature-Input' };
  }
  const params = input === undefined ? undefined : parseSignatureInput(input);
  const sig = signature === undefined ? null : signaturePattern.exec(signature.trim());
  if (params === undefined || sig === null || sig[1] === undefined) {
    return {
      ok: false,
      problem: 'malformed',
      reason: 'Signature-Input/Signature are not a rigcap ed25519 signature',
    };
  }
  if (Math.abs(o.nowS - params.created) > o.windowS) {
    return {
      ok: false,
      problem: 'stale',
      reason: `created ${params.created} is outside ±${o.windowS} s of now`,
      keyid: params.keyid,
    };
  }
  for (const c of [
    ...requiredComponents,
    ...coveredWhenPresent.filter((h) => req.headers[h] !== undefined),
  ]) {
    if (!params.components.includes(c)) {
      return {
        ok: false,
        problem: 'uncovered',
        reason: `signature does not cover ${c}`,
        keyid: params.keyid,
      };
    }
  }
  const spki = await o.publicKeyOf(params.keyid);
  if (spki === undefined) {
    return {
      ok: false,
      problem: 'bad-signature',
      reason: 'no enrolled key has this keyid',
      keyid: params.keyid,
    };
  }
  const base = signatureBase(req, params);
  if (
    base === undefined ||
    !verifySignature(spki, new TextEncoder().encode(base), Buffer.from(sig[1], 'base64'))
  ) {
    return { ok: false, problem: 'bad-signature', reason: 'signature does not verify', keyid: params.keyid };
  }
  return { ok: true, params };
}
