// Every device request after enrolment is signed with the device key (RFC 9421, see
// agent/records/http-signature.ts). This checks a request's signature against the enrolled keys,
// refuses replays within the freshness window, and names the device the request speaks for.
// Refusals carry stable codes: no signature → RIGCAP_RECEIVER_UNAUTHENTICATED, a malformed,
// uncovering or non-verifying one → RIGCAP_RECEIVER_BAD_SIGNATURE, stale or replayed →
// RIGCAP_RECEIVER_REPLAY, a key nobody enrolled → RIGCAP_RECEIVER_UNKNOWN_DEVICE, a revoked key →
// RIGCAP_RECEIVER_KEY_REVOKED.
import { createPublicKey } from 'node:crypto';
import { RigcapError } from '../../agent/errors.ts';
import { checkRequestSignature, type SignableRequest } from '../../agent/records/http-signature.ts';
import { MemoryNonceStore, type NonceStore } from './nonces.ts';

/** What the store knows of an enrolled key (the state's key rows fit this shape). */
export interface EnrolledKey {
  signerId: string;
  publicPem: string;
  revokedFromSeq: number | null;
}

/** The device a verified request speaks for. */
export interface AuthenticatedDevice {
  deviceId: string;
  keyid: string;
}

export interface RequestAuthOptions {
  keys: { key(keyid: string): Promise<EnrolledKey | undefined> };
  nonces?: NonceStore;
  /** Accepted |now − created| in seconds (default 300). */
  windowS?: number;
  nowS?: () => number;
}

export class RequestAuth {
  readonly #keys: RequestAuthOptions['keys'];
  readonly #nonces: NonceStore;
  readonly windowS: number;
  readonly #nowS: () => number;

  constructor(o: RequestAuthOptions) {
    this.#keys = o.keys;
    this.#nonces = o.nonces ?? new MemoryNonceStore();
    this.windowS = o.windowS ?? 300;
    this.#nowS = o.nowS ?? (() => Math.floor(Date.now() / 1000));
  }

  /** True when the request carries a signature at all. */
  static isSigned(headers: Readonly<Record<string, unknown>>): boolean {
    return headers['signature'] !== undefined || headers['signature-input'] !== undefined;
  }

  /**
   * Verifies the signature over the request line and headers (the body's Content-Digest is
   * compared with the body by the caller) and claims its nonce. Throws a RigcapError on refusal.
   */
  async authenticate(req: SignableRequest): Promise<AuthenticatedDevice> {
    const nowS = this.#nowS();
    let found: EnrolledKey | undefined;
    const check = await checkRequestSignature(req, {
      nowS,
      windowS: this.windowS,
      publicKeyOf: async (keyid) => {
        found = await this.#keys.key(keyid);
        if (found === undefined) return undefined;
        return new Uint8Array(createPublicKey(found.publicPem).export({ format: 'der', type: 'spki' }));
      },
    });
    if (!check.ok) {
      if (check.problem === 'unsigned')
        throw new RigcapError('RIGCAP_RECEIVER_UNAUTHENTICATED', check.reason);
      if (check.problem === 'stale') throw new RigcapError('RIGCAP_RECEIVER_REPLAY', check.reason);
      if (check.problem === 'bad-signature' && check.keyid !== undefined && found === undefined) {
        throw new RigcapError('RIGCAP_RECEIVER_UNKNOWN_DEVICE', `no device enrolled key ${check.keyid}`);
      }
      throw new RigcapError('RIGCAP_RECEIVER_BAD_SIGNATURE', check.reason);
    }
    const key = found;
    if (key === undefined) throw new RigcapError('RIGCAP_RECEIVER_UNKNOWN_DEVICE', 'no enrolled key');
    if (key.revokedFromSeq !== null) {
      throw new RigcapError(
        'RIGCAP_RECEIVER_KEY_REVOKED',
        `key ${check.params.keyid} of ${key.signerId} is revoked`,
      );
    }
    const fresh = await this.#nonces.claim(
      check.params.keyid,
      check.params.nonce,
      nowS + 2 * this.windowS,
      nowS,
    );
    if (!fresh) throw new RigcapError('RIGCAP_RECEIVER_REPLAY', 'this nonce was already used');
    return { deviceId: key.signerId, keyid: check.params.keyid };
  }
}

/** A fastify request's signable view (path without the query, lower-case single-valued headers). */
export function signableOf(req: {
  method: string;
  url: string;
  headers: Readonly<Record<string, string | string[] | undefined>>;
}): SignableRequest {
  const headers: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  const q = req.url.indexOf('?');
  return { method: req.method, path: q === -1 ? req.url : req.url.slice(0, q), headers };
}
