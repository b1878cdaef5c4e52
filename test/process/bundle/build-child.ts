// Builds one bundle in its own process for the bundle tests: buildBundle runs its steps synchronously
// for minutes, which inside a vitest worker would starve the worker's messages to vitest.
// argv[2]: the BundleOptions as JSON (without log); prints the BundleResult as JSON.
import { buildBundle, type BundleOptions } from '../../../scripts/bundle/build.ts';

const options = JSON.parse(process.argv[2] ?? '{}') as BundleOptions;
const result = await buildBundle({ ...options, log: () => {} });
process.stdout.write(`${JSON.stringify(result)}\n`);
