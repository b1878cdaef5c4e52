// Fails fast, with the fix, when a script runs on a Node other than 22 (the project's target).
import { requiredMajor } from './node22.js';

const major = Number(process.versions.node.split('.')[0]);
if (major !== requiredMajor) {
  console.error(
    `rigcap needs Node ${requiredMajor}; this is ${process.version}. Run through npm (npm test, npm run demo, npx rigcap), ` +
      'which puts the bundled Node 22 from node_modules/.bin first on PATH, or install Node 22 LTS.',
  );
  process.exit(2);
}
