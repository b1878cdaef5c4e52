// The clocks a sealer stamps records with (chain.monoNs, chain.wallNs), injected so tests control time.

/** Monotonic and wall clocks in nanoseconds (injected so tests control time). */
export interface SealerClock {
  monoNs(): bigint;
  wallNs(): bigint;
}

/** The process's monotonic clock and the system wall clock. */
export const systemClock: SealerClock = {
  monoNs: () => process.hrtime.bigint(),
  wallNs: () => BigInt(Date.now()) * 1_000_000n,
};
