// Replay protection: each (keyid, nonce) of a signed request is accepted once within the freshness
// window. The in-memory store serves one receiver instance; instances behind one address share a
// store in the state database so a request replayed to another instance is refused too.

/** Remembers nonces until they expire. */
export interface NonceStore {
  /** True the first time (keyid, nonce) is seen before `expiresAtS`; false for a replay. */
  claim(keyid: string, nonce: string, expiresAtS: number, nowS: number): Promise<boolean>;
}

/** Nonces in memory, bounded per key so a flood from one device cannot grow it without limit. */
export class MemoryNonceStore implements NonceStore {
  readonly #byKey = new Map<string, Map<string, number>>();
  readonly #maxPerKey: number;

  constructor(o: { maxPerKey?: number } = {}) {
    this.#maxPerKey = o.maxPerKey ?? 100_000;
  }

  async claim(keyid: string, nonce: string, expiresAtS: number, nowS: number): Promise<boolean> {
    let seen = this.#byKey.get(keyid);
    if (seen === undefined) {
      seen = new Map();
      this.#byKey.set(keyid, seen);
    }
    const until = seen.get(nonce);
    if (until !== undefined && until >= nowS) return false;
    if (seen.size >= this.#maxPerKey) {
      for (const [n, t] of seen) if (t < nowS) seen.delete(n);
      // Still full of live nonces: refuse rather than forget one that may be replayed.
      if (seen.size >= this.#maxPerKey) return false;
    }
    seen.set(nonce, expiresAtS);
    return true;
  }
}
