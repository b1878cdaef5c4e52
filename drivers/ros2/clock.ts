// The clocks a sample is stamped with.

/** Wall and monotonic clocks, injectable for tests. */
export interface Ros2DriverClock {
  wallNs(): bigint;
  monoNs(): bigint;
}

/** Monotonic receive time, and wall time advanced by it from one anchor (ns resolution). */
export const systemClock: Ros2DriverClock = ((): Ros2DriverClock => {
  const monoAnchorNs = process.hrtime.bigint();
  const wallAnchorNs = BigInt(Date.now()) * 1_000_000n;
  return {
    monoNs: () => process.hrtime.bigint(),
    // Wall time advanced by the monotonic clock: ns resolution; the agent's stamp stage owns clock state.
    wallNs: () => wallAnchorNs + (process.hrtime.bigint() - monoAnchorNs),
  };
})();
