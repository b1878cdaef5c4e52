// `node app/scripts/bundle/verify.ts BUNDLE_DIR`: checks an unpacked bundle against its manifest.
// install.sh runs it with the bundled Node before it installs anything (exit 1 lists what differs).
import { checkManifest } from './files.ts';

const root = process.argv[2];
if (root === undefined) {
  process.stderr.write('usage: node verify.ts BUNDLE_DIR\n');
  process.exit(2);
}
const problems = checkManifest(root);
for (const line of problems.slice(0, 20)) process.stderr.write(`${line}\n`);
if (problems.length > 20) process.stderr.write(`… and ${problems.length - 20} more\n`);
process.exit(problems.length === 0 ? 0 : 1);
