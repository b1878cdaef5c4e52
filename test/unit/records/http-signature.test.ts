// Request signatures (RFC 9421, Ed25519): a signed request verifies with the device's key; any
// change to the method, path, body digest or a covered tus header, a stale created time, a missing
// or foreign key, and a signature that leaves a tus header uncovered are all refused.
import { createPublicKey } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { generateKeyPair, nodeSigner } from '../../../agent/records/ed25519.ts';
import {
  checkRequestSignature,
  contentDigestOf,
  parseSignatureInput,
  signRequest,
  type SignableRequest,
} from '../../../agent/records/http-signature.ts';

const pair = generateKeyPair();
const signer = nodeSigner(pair.privateKeyPem);
const spki = new Uint8Array(createPublicKey(pair.publicKeyPem).export({ format: 'der', type: 'spki' }));
const other = generateKeyPair();
const now = 1_790_000_000;

function signed(req: SignableRequest, body = new Uint8Array()): SignableRequest {
  const headers = { ...req.headers, 'content-digest': contentDigestOf(body) };
  const sig = signRequest({ ...req, headers }, { signer, nonce: 'n0nce-0123456789abcdef', created: now });
  return { ...req, headers: { ...headers, ...sig } };
}

const check = (req: SignableRequest, keys: Record<string, Uint8Array> = { [signer.keyId]: spki }) =>
  checkRequestSignature(req, { nowS: now + 5, windowS: 300, publicKeyOf: (k) => keys[k] });

const patch: SignableRequest = {
  method: 'PATCH',
  path: '/v1/uploads/0123456789abcdef0123456789abcdef',
  headers: { 'upload-offset': '1024', 'tus-resumable': '1.0.0' },
};

describe('HTTP message signatures', () => {
  it('a signed PATCH verifies, covering method, path, digest and the upload offset', async () => {
    const req = signed(patch, Buffer.from('part bytes'));
    const got = await check(req);
    expect(got).toMatchObject({ ok: true, params: { keyid: signer.keyId } });
    expect(parseSignatureInput(req.headers['signature-input'] ?? '')?.components).toEqual([
      '@method',
      '@path',
      'content-digest',
      'upload-offset',
    ]);
  });

  it('refuses a request with no signature as unsigned', async () => {
    expect(await check(patch)).toMatchObject({ ok: false, problem: 'unsigned' });
  });

  it('refuses a changed method, path, digest or covered header', async () => {
    const req = signed(patch, Buffer.from('part bytes'));
    for (const changed of [
      { ...req, method: 'DELETE' },
      { ...req, path: '/v1/uploads/ffffffffffffffffffffffffffffffff' },
      { ...req, headers: { ...req.headers, 'content-digest': contentDigestOf(Buffer.from('other')) } },
      { ...req, headers: { ...req.headers, 'upload-offset': '0' } },
    ]) {
      expect(await check(changed)).toMatchObject({ ok: false, problem: 'bad-signature' });
    }
  });

  it('refuses a stale created time, an unknown key and a foreign key', async () => {
    const req = signed(patch);
    expect(
      await checkRequestSignature(req, { nowS: now + 301, windowS: 300, publicKeyOf: () => spki }),
    ).toMatchObject({ ok: false, problem: 'stale' });
    expect(await check(req, {})).toMatchObject({ ok: false, problem: 'bad-signature' });
    const foreign = new Uint8Array(
      createPublicKey(other.publicKeyPem).export({ format: 'der', type: 'spki' }),
    );
    expect(await check(req, { [signer.keyId]: foreign })).toMatchObject({
      ok: false,
      problem: 'bad-signature',
    });
  });

  it('refuses a signature that leaves a present tus header uncovered', async () => {
    const req = signed({ ...patch, headers: { 'tus-resumable': '1.0.0' } });
    const widened = { ...req, headers: { ...req.headers, 'upload-length': '99' } };
    expect(await check(widened)).toMatchObject({ ok: false, problem: 'uncovered' });
  });

  it('never throws on arbitrary Signature and Signature-Input headers', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string(), fc.string(), async (input, sig) => {
        const got = await check({
          ...patch,
          headers: { ...patch.headers, 'signature-input': input, signature: sig },
        });
        expect(got.ok).toBe(false);
      }),
      { numRuns: 300 },
    );
  });
});
