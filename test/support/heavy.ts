// Tests that need several minutes of both cores to themselves (offline bundles, qemu, repeated
// kill -9 of the full demo, de-id saturated beside a CPU hog) run only when asked, because CI runs
// test files two at a time on its 2 cores and cannot give them that inside its time budget.

/** Why a heavy test is skipped in this run, or undefined when RIGCAP_HEAVY_TESTS=1 asks for it. */
export const heavySkipReason: string | undefined =
  process.env.RIGCAP_HEAVY_TESTS === '1'
    ? undefined
    : 'heavy test: run with RIGCAP_HEAVY_TESTS=1 on otherwise idle cores (npm run test:heavy)';
