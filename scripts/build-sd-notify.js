// Builds agent/ops/native/sd_notify.c into a Node-API addon with the system C compiler. Node-API is
// ABI-stable, so one build serves every Node 22 release; no Node headers or node-gyp are needed.
// Run by postinstall and by install.sh; `node scripts/build-sd-notify.js [--force]` by hand.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { repoRoot } from './node22.js';

export const sdNotifySource = join(repoRoot, 'agent', 'ops', 'native', 'sd_notify.c');
export const sdNotifyAddon = join(repoRoot, 'agent', 'ops', 'native', 'build', 'sd_notify.node');

/**
 * Compiles the addon unless it exists; returns null on success or the compiler's complaint.
 * `output`, `cc` and `flags` let the bundle builder cross-compile it for another architecture.
 */
export function buildSdNotify(options = {}) {
  const output = options.output ?? sdNotifyAddon;
  if (existsSync(output) && options.force !== true) return null;
  mkdirSync(join(output, '..'), { recursive: true });
  const cc = options.cc ?? process.env.CC ?? 'cc';
  const args = [
    ...(options.flags ?? []),
    '-std=gnu11',
    '-O2',
    '-Wall',
    '-Wextra',
    '-fPIC',
    '-shared',
    '-fvisibility=hidden',
    '-o',
    output,
    sdNotifySource,
  ];
  const result = spawnSync(cc, args, { encoding: 'utf8' });
  if (result.error) return `${cc} not runnable: ${result.error.message}`;
  if (result.status !== 0) return `${cc} ${args.join(' ')} failed:\n${result.stderr}`;
  return null;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const problem = buildSdNotify({ force: process.argv.includes('--force') });
  if (problem !== null) {
    console.error(`rigcap: could not build the sd_notify addon (systemd readiness and watchdog): ${problem}`);
    process.exit(1);
  }
}
