import { createHash, createPublicKey } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  generateKeyPair,
  keyIdOf,
  nobleSign,
  noblePublicKey,
  nobleVerify,
  nodeSigner,
  pemOfSpki,
  rawOfSpki,
  seedOfPrivateKey,
  spkiBlocksOfPem,
  spkiOfRaw,
  verifySignature,
} from '../../../agent/records/index.ts';

describe('Ed25519', () => {
  const pair = generateKeyPair();
  const signer = nodeSigner(pair.privateKeyPem);

  it('keyid is the lowercase hex SHA-256 of the SPKI DER', () => {
    const der = createPublicKey(pair.publicKeyPem).export({ format: 'der', type: 'spki' });
    expect(signer.keyId).toBe(createHash('sha256').update(der).digest('hex'));
    expect(pair.keyId).toBe(signer.keyId);
    expect(keyIdOf(signer.publicKeySpki)).toMatch(/^[0-9a-f]{64}$/);
  });

  it('node:crypto and @noble/ed25519 give identical signatures for the same key and message', async () => {
    const seed = seedOfPrivateKey(pair.privateKeyPem);
    expect(Buffer.from(await noblePublicKey(seed))).toEqual(
      Buffer.from(rawOfSpki(signer.publicKeySpki) as Uint8Array),
    );
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 512 }), async (message) => {
        const viaNode = signer.sign(message);
        const viaNoble = await nobleSign(seed, message);
        expect(Buffer.from(viaNoble).equals(Buffer.from(viaNode))).toBe(true);
        expect(await nobleVerify(rawOfSpki(signer.publicKeySpki) as Uint8Array, message, viaNode)).toBe(true);
        expect(verifySignature(signer.publicKeySpki, message, viaNoble)).toBe(true);
      }),
      { numRuns: 40 },
    );
  });

  it('rejects a signature over another message, by another key, or of the wrong length', () => {
    const message = new TextEncoder().encode('chunk');
    const sig = signer.sign(message);
    expect(verifySignature(signer.publicKeySpki, new TextEncoder().encode('chunk!'), sig)).toBe(false);
    expect(verifySignature(nodeSigner(generateKeyPair().privateKeyPem).publicKeySpki, message, sig)).toBe(
      false,
    );
    expect(verifySignature(signer.publicKeySpki, message, sig.subarray(1))).toBe(false);
  });

  it('PEM and raw key forms round-trip', () => {
    expect(
      spkiBlocksOfPem(pemOfSpki(signer.publicKeySpki) + pair.publicKeyPem).map((b) => keyIdOf(b)),
    ).toEqual([signer.keyId, signer.keyId]);
    expect(keyIdOf(spkiOfRaw(rawOfSpki(signer.publicKeySpki) as Uint8Array))).toBe(signer.keyId);
  });
});
