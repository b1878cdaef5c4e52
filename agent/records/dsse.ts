// DSSE v1 envelopes: the pre-authentication encoding that is signed, and the one serialisation
// of an envelope that rigcap writes (so a copy can be compared byte for byte).

/** The payload type of every rigcap record. */
export const inTotoPayloadType = 'application/vnd.in-toto+json';

export interface DsseSignature {
  keyid: string;
  sig: string;
}

export interface DsseEnvelope {
  payloadType: string;
  /** Standard base64 of the payload bytes. */
  payload: string;
  signatures: DsseSignature[];
}

const encoder = new TextEncoder();

/** DSSE PAE: `"DSSEv1" SP len(type) SP type SP len(body) SP body`, lengths in ASCII decimal bytes. */
export function preAuthEncoding(payloadType: string, payload: Uint8Array): Uint8Array {
  const typeBytes = encoder.encode(payloadType);
  const head = encoder.encode(`DSSEv1 ${typeBytes.byteLength} `);
  const mid = encoder.encode(` ${payload.byteLength} `);
  const out = new Uint8Array(head.byteLength + typeBytes.byteLength + mid.byteLength + payload.byteLength);
  out.set(head, 0);
  out.set(typeBytes, head.byteLength);
  out.set(mid, head.byteLength + typeBytes.byteLength);
  out.set(payload, head.byteLength + typeBytes.byteLength + mid.byteLength);
  return out;
}

/** Standard base64 (with padding) of bytes. */
export function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

/** Decodes standard base64, or returns undefined when the text is not its own canonical encoding. */
export function fromCanonicalBase64(text: string): Uint8Array | undefined {
  const bytes = Buffer.from(text, 'base64');
  // Node's decoder skips junk characters; re-encoding rejects every non-canonical spelling.
  return bytes.toString('base64') === text ? new Uint8Array(bytes) : undefined;
}

/** The envelope as rigcap writes it to disk: fixed key order, one line, a trailing newline. */
export function serializeEnvelope(envelope: DsseEnvelope): Uint8Array {
  const fixed = {
    payloadType: envelope.payloadType,
    payload: envelope.payload,
    signatures: envelope.signatures.map((s) => ({ keyid: s.keyid, sig: s.sig })),
  };
  return encoder.encode(`${JSON.stringify(fixed)}\n`);
}

/** Parses one serialised envelope; `canonical` is false when the bytes are not what rigcap would write. */
export function parseEnvelope(bytes: Uint8Array): { envelope: DsseEnvelope; canonical: boolean } | undefined {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (err) {
    // Not UTF-8 (TypeError from the fatal decoder) or not JSON (SyntaxError).
    if (!(err instanceof TypeError || err instanceof SyntaxError)) throw err;
    return undefined;
  }
  if (!isEnvelope(value)) return undefined;
  const again = serializeEnvelope(value);
  return { envelope: value, canonical: Buffer.from(again).equals(Buffer.from(bytes)) };
}

function isEnvelope(value: unknown): value is DsseEnvelope {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    typeof v['payloadType'] === 'string' &&
    typeof v['payload'] === 'string' &&
    Array.isArray(v['signatures']) &&
    v['signatures'].every(
      (s: unknown) =>
        typeof s === 'object' &&
        s !== null &&
        typeof (s as Record<string, unknown>)['keyid'] === 'string' &&
        typeof (s as Record<string, unknown>)['sig'] === 'string',
    )
  );
}
