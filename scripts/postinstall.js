// better-sqlite3 binds to V8's ABI, not N-API: if npm built it against another Node's headers
// (for example a global `nodedir=/usr` pointing at Node 20), rebuild it from source against the
// headers that ship with the bundled Node 22. zeromq, sharp and onnxruntime-node are N-API.
import { spawnSync } from 'node:child_process';
import { dirname } from 'node:path';
import { node22HeadersDir, node22Path, repoRoot } from './node22.js';

const node = node22Path();
if (!node) {
  console.error(
    'rigcap postinstall: no Node 22 found (the `node` package did not install); run `npm ci` again.',
  );
  process.exit(1);
}
const loads = () =>
  spawnSync(node, ['-e', "new (require('better-sqlite3'))(':memory:').close()"], {
    cwd: repoRoot,
    stdio: 'ignore',
  }).status === 0;

if (!loads()) {
  const headers = node22HeadersDir();
  if (!headers) {
    console.error(
      'rigcap postinstall: Node 22 headers are missing from node_modules/node; run `npm ci` again.',
    );
    process.exit(1);
  }
  console.error(
    `rigcap postinstall: rebuilding better-sqlite3 for Node ${requiredVersion(node)} from source`,
  );
  const env = {
    ...process.env,
    PATH: `${dirname(node)}:${process.env.PATH ?? ''}`,
    npm_config_nodedir: headers,
    npm_config_build_from_source: 'true',
  };
  const rebuilt = spawnSync('npm', ['rebuild', 'better-sqlite3'], { cwd: repoRoot, env, stdio: 'inherit' });
  if (rebuilt.status !== 0 || !loads()) {
    console.error(
      'rigcap postinstall: better-sqlite3 could not be built for Node 22 (needs python3, make, g++).',
    );
    process.exit(1);
  }
}

function requiredVersion(bin) {
  return spawnSync(bin, ['--version'], { encoding: 'utf8' }).stdout.trim();
}

// The sd_notify addon (systemd readiness and watchdog) is Node-API, built once with the C compiler;
// only a systemd deployment needs it, so a missing compiler warns instead of failing the install.
const { buildSdNotify } = await import('./build-sd-notify.js');
const sdNotifyProblem = buildSdNotify();
if (sdNotifyProblem !== null) {
  console.error(
    `rigcap postinstall: sd_notify addon not built (needed only under systemd): ${sdNotifyProblem}`,
  );
}
