// Raw requests to a receiver as a device (or an impostor) sends them: signed with RFC 9421 over
// method, path and content digest, or not at all; answers read back as [status, code].
import { createHash, randomBytes } from 'node:crypto';
import type { Signer } from '../../agent/records/ed25519.ts';
import { parseEnvelope, preAuthEncoding, serializeEnvelope } from '../../agent/records/dsse.ts';
import { contentDigestOf, signRequest } from '../../agent/records/http-signature.ts';

export const sha256Hex = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** Headers of a tus create for `body`, with an optional file name. */
export function createHeaders(body: Uint8Array, filename?: string): Record<string, string> {
  const meta = [`sha256 ${Buffer.from(sha256Hex(body)).toString('base64')}`];
  if (filename !== undefined) meta.push(`filename ${Buffer.from(filename).toString('base64')}`);
  return {
    'tus-resumable': '1.0.0',
    'upload-length': String(body.length),
    'upload-metadata': meta.join(','),
  };
}

/** `headers` plus Content-Digest and the signature of `who` (a fresh nonce unless given). */
export function signed(
  who: { signer: Signer },
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: Uint8Array,
  o: { created?: number; nonce?: string } = {},
): Record<string, string> {
  const all = { ...headers, 'content-digest': contentDigestOf(body ?? new Uint8Array()) };
  const sig = signRequest(
    { method, path, headers: all },
    {
      signer: who.signer,
      created: o.created ?? Math.floor(Date.now() / 1000),
      nonce: o.nonce ?? randomBytes(12).toString('base64url'),
    },
  );
  return { ...all, ...sig };
}

/** Status and rigcap code of an answer (code '' when the body names none). */
export async function answerOf(res: Response): Promise<[number, string]> {
  const text = await res.text();
  try {
    const code = (JSON.parse(text) as { code?: unknown }).code;
    return [res.status, typeof code === 'string' ? code : ''];
  } catch (err) {
    if (!(err instanceof SyntaxError)) throw err;
    return [res.status, ''];
  }
}

/** Sends a request and returns [status, code]. */
export async function send(
  url: string,
  init: { method: string; headers?: Record<string, string>; body?: Uint8Array },
): Promise<[number, string]> {
  return answerOf(
    await fetch(url, {
      method: init.method,
      headers: init.headers ?? {},
      ...(init.body === undefined ? {} : { body: Buffer.from(init.body) }),
    }),
  );
}

/**
 * A record's envelope with its payload text edited and signed again by `signer`: a record the
 * agent's own builder would refuse to make (a name with `..` in it), validly signed.
 */
export function resigned(bytes: Uint8Array, signer: Signer, edit: (payload: string) => string): Uint8Array {
  const env = parseEnvelope(bytes);
  if (env === undefined) throw new Error('not an envelope');
  const payload = Buffer.from(edit(Buffer.from(env.envelope.payload, 'base64').toString('utf8')), 'utf8');
  const sig = signer.sign(preAuthEncoding(env.envelope.payloadType, payload));
  return serializeEnvelope({
    payloadType: env.envelope.payloadType,
    payload: payload.toString('base64'),
    signatures: [{ keyid: signer.keyId, sig: Buffer.from(sig).toString('base64') }],
  });
}
