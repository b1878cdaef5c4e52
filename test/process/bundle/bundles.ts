// Builds each architecture's bundle once per test run and shares it between the bundle tests: the
// first test file to ask builds it (under a lock) from the commit the run started on, the others
// wait for it and reuse it. Building takes minutes; unpacking takes seconds.
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import type { BundleArch, BundleOptions, BundleResult } from '../../../scripts/bundle/build.ts';
import { toolchainFor } from '../../../scripts/bundle/native.ts';

export const repo = join(import.meta.dirname, '..', '..', '..');
const cacheRoot = join(tmpdir(), 'rigcap-bundle-tests');
/** Compiled native addons, shared by every build of this run (same inputs give the same bytes). */
export const nativeCacheDir = join(cacheRoot, 'native');
/** How long a test waits for a bundle: two builds may run one after the other on 2 busy cores. */
export const buildTimeoutMs = 25 * 60_000;

/** Why bundles cannot be built here, or undefined when they can. */
export function cannotBuild(arch: BundleArch): string | undefined {
  const tc = toolchainFor(arch);
  for (const [tool, pkg] of [
    [tc.cc, arch === 'arm64' ? 'gcc-aarch64-linux-gnu' : 'gcc'],
    [tc.cxx, arch === 'arm64' ? 'g++-aarch64-linux-gnu' : 'g++'],
    ['zstd', 'zstd'],
    ['readelf', 'binutils'],
  ] as const) {
    const r = spawnSync(tool, ['--version'], { stdio: 'ignore' });
    if (r.error !== undefined || r.status !== 0)
      return `${tool} is not installed: apt-get install ${pkg} to build the ${arch} bundle`;
  }
  return undefined;
}

/**
 * The commit this test run bundles: HEAD when the run's first bundle test asked (test files run in
 * forks of one vitest process, so its pid names the run); later commits by others do not rebuild.
 */
async function runCommit(): Promise<string> {
  const file = join(cacheRoot, `run-${process.ppid}.commit`);
  return withLock(file, async () => {
    if (existsSync(file)) return readFileSync(file, 'utf8').trim();
    const head = spawnSync('git', ['rev-parse', 'HEAD'], { cwd: repo, encoding: 'utf8' }).stdout.trim();
    writeFileSync(file, head);
    return head;
  });
}

async function withLock<T>(dir: string, work: () => Promise<T>): Promise<T> {
  const lock = `${dir}.lock`;
  const started = Date.now();
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      // A lock left by a killed run is older than any build.
      if (Date.now() - statSync(lock).mtimeMs > buildTimeoutMs)
        rmSync(lock, { recursive: true, force: true });
      if (Date.now() - started > buildTimeoutMs) throw new Error(`waited too long for ${lock}`);
      await sleep(2000);
    }
  }
  try {
    return await work();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

/**
 * buildBundle in a child process (build-child.ts), so the test worker stays responsive while it
 * runs for minutes; the child's error output is the error's message.
 */
export async function buildInChild(options: Omit<BundleOptions, 'log'>): Promise<BundleResult> {
  try {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [join(import.meta.dirname, 'build-child.ts'), JSON.stringify(options)],
      { cwd: repo, maxBuffer: 64 * 1024 * 1024, timeout: buildTimeoutMs },
    );
    return JSON.parse(stdout) as BundleResult;
  } catch (err) {
    const { stderr } = err as { stderr?: string };
    throw new Error(`building the ${options.arch} bundle: ${stderr ?? String(err)}`, { cause: err });
  }
}

/** This run's bundle of arch (built from runCommit's commit), built at most once per run. */
export async function sharedBundle(arch: BundleArch): Promise<BundleResult> {
  mkdirSync(cacheRoot, { recursive: true });
  const commit = await runCommit();
  const dir = join(cacheRoot, `${arch}-${commit.slice(0, 16)}`);
  return withLock(dir, async () => {
    const done = join(dir, 'result.json');
    if (existsSync(done)) return JSON.parse(readFileSync(done, 'utf8')) as BundleResult;
    for (const old of readdirSync(cacheRoot))
      if (
        (old.startsWith(`${arch}-`) && !old.endsWith('.lock')) ||
        (old.startsWith('run-') && !old.includes(`${process.ppid}`))
      )
        rmSync(join(cacheRoot, old), { recursive: true, force: true });
    const result = await buildInChild({ arch, outDir: dir, commit, nativeCacheDir });
    writeFileSync(done, JSON.stringify(result));
    return result;
  });
}

/** The bundle unpacked into dest (a fresh folder); returns the bundle's root folder. */
export function unpack(file: string, dest: string): string {
  mkdirSync(dest, { recursive: true });
  const r = spawnSync(
    'bash',
    ['-c', 'set -o pipefail; zstd -dcq "$1" | tar -xf - -C "$2"', 'unpack', file, dest],
    {
      encoding: 'utf8',
    },
  );
  if (r.status !== 0) throw new Error(`unpacking ${file}: ${r.stderr}`);
  const [root] = readdirSync(dest);
  return join(dest, root!);
}
