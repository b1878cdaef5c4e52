// Locates the Node 22 runtime that the `node` npm package ships, so that the project runs on
// Node 22 even where the system Node is older. Plain JS (no TypeScript): it runs before anything else.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
export const requiredMajor = 22;

/** Absolute path of a Node 22 binary: the running one if it is 22, else the bundled one. */
export function node22Path() {
  if (Number(process.versions.node.split('.')[0]) === requiredMajor) return process.execPath;
  const bundled = join(repoRoot, 'node_modules', 'node', 'bin', 'node');
  return existsSync(bundled) ? bundled : null;
}

/** The folder holding Node 22's C headers (include/node), for native addons built against the V8 ABI. */
export function node22HeadersDir() {
  const dir = join(repoRoot, 'node_modules', 'node', 'node_modules', `node-linux-${process.arch}`);
  return existsSync(join(dir, 'include', 'node', 'node.h')) ? dir : null;
}
