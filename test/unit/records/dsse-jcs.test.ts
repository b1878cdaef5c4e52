import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  canonicalBytes,
  canonicalText,
  fromCanonicalBase64,
  parseEnvelope,
  preAuthEncoding,
  serializeEnvelope,
  toBase64,
} from '../../../agent/records/index.ts';

const text = (b: Uint8Array): string => new TextDecoder().decode(b);

describe('DSSE PAE', () => {
  it('matches the known-answer vector from the DSSE protocol spec', () => {
    const pae = preAuthEncoding('http://example.com/HelloWorld', new TextEncoder().encode('hello world'));
    expect(text(pae)).toBe('DSSEv1 29 http://example.com/HelloWorld 11 hello world');
  });

  it('counts bytes, not characters, and handles empty bodies', () => {
    expect(text(preAuthEncoding('t', new TextEncoder().encode('é')))).toBe('DSSEv1 1 t 2 é');
    expect(text(preAuthEncoding('', new Uint8Array()))).toBe('DSSEv1 0  0 ');
  });
});

describe('envelope serialisation', () => {
  it('round-trips and flags any non-canonical spelling', () => {
    const env = {
      payloadType: 'application/vnd.in-toto+json',
      payload: toBase64(new TextEncoder().encode('{}')),
      signatures: [{ keyid: 'ab', sig: 'AA==' }],
    };
    const bytes = serializeEnvelope(env);
    expect(parseEnvelope(bytes)).toEqual({ envelope: env, canonical: true });
    const spaced = new TextEncoder().encode(`${JSON.stringify(env, null, 1)}\n`);
    expect(parseEnvelope(spaced)?.canonical).toBe(false);
    expect(parseEnvelope(new TextEncoder().encode('not json'))).toBeUndefined();
  });

  it('rejects base64 that is not its own canonical encoding', () => {
    expect(fromCanonicalBase64('aGVsbG8=')).toEqual(new TextEncoder().encode('hello'));
    expect(fromCanonicalBase64('aGVs bG8=')).toBeUndefined();
    expect(fromCanonicalBase64('aGVsbG8')).toBeUndefined();
  });
});

describe('JCS', () => {
  it('sorts keys by UTF-16 code units and prints numbers the ECMAScript way (RFC 8785)', () => {
    expect(canonicalText({ b: 1, a: [true, null, 'x'], '\u20ac': 1, '\r': 2 })).toBe(
      '{"\\r":2,"a":[true,null,"x"],"b":1,"€":1}',
    );
    expect(canonicalText({ n: 1e21, f: 0.000001, z: -0 })).toBe('{"f":0.000001,"n":1e+21,"z":0}');
  });

  it('is idempotent: canonical text parses back to the same canonical bytes', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const once = canonicalBytes(value);
        const again = canonicalBytes(JSON.parse(text(once)));
        expect(Buffer.from(again).equals(Buffer.from(once))).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('does not depend on key insertion order', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue()), (dict) => {
        const reversed = Object.fromEntries(Object.entries(dict).reverse());
        expect(canonicalText(reversed)).toBe(canonicalText(dict));
      }),
      { numRuns: 200 },
    );
  });
});
