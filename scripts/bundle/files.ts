// The file-tree side of a bundle: which project files ship, a fixed mode for every entry, and the
// manifest (sha256 of every file) that install.sh checks before it trusts an unpacked bundle.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, lstatSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { join, relative, sep } from 'node:path';

/** Tracked paths that make up `app/`; tests, CI and editor settings stay out. */
export const appPaths = [
  '.npmrc',
  'README.md',
  'package.json',
  'package-lock.json',
  'agent',
  'bin',
  'config',
  'drivers',
  'receiver',
  'scripts',
  'systemd',
] as const;

/**
 * The app's files in a checkout: tracked ones and new ones git does not ignore, as they are in the
 * working tree (in a clean clone that is exactly the commit). Sorted, relative to repoRoot.
 */
export function appFiles(repoRoot: string): string[] {
  const r = spawnSync(
    'git',
    ['ls-files', '-z', '--cached', '--others', '--exclude-standard', '--', ...appPaths],
    {
      cwd: repoRoot,
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    },
  );
  if (r.status !== 0)
    throw new Error(
      `git ls-files in ${repoRoot} failed (a bundle is built from a git checkout): ${r.stderr}`,
    );
  return [...new Set(r.stdout.split('\0'))].filter((f) => f !== '' && existsSync(join(repoRoot, f))).sort();
}

/** One entry of a tree, path relative to its root with forward slashes. */
export type TreeEntry =
  | { readonly path: string; readonly kind: 'file'; readonly mode: number; readonly size: number }
  | { readonly path: string; readonly kind: 'dir' }
  | { readonly path: string; readonly kind: 'symlink'; readonly target: string };

/** Every entry under root, sorted by path (byte order), without following symlinks. */
export function walkTree(root: string): TreeEntry[] {
  const out: TreeEntry[] = [];
  const visit = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const abs = join(dir, name);
      const path = relative(root, abs).split(sep).join('/');
      const st = lstatSync(abs);
      if (st.isSymbolicLink()) out.push({ path, kind: 'symlink', target: readlinkSync(abs) });
      else if (st.isDirectory()) {
        out.push({ path, kind: 'dir' });
        visit(abs);
      } else if (st.isFile()) out.push({ path, kind: 'file', mode: st.mode & 0o777, size: st.size });
      else throw new Error(`${abs}: neither a file, a folder nor a symlink; a bundle holds only those`);
    }
  };
  visit(root);
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** Sets 0755 on folders and executables and 0644 on other files, so the tarball never carries the umask. */
export function normaliseModes(root: string): void {
  chmodSync(root, 0o755);
  for (const entry of walkTree(root)) {
    if (entry.kind === 'symlink') continue;
    const executable = entry.kind === 'dir' || (entry.mode & 0o111) !== 0;
    chmodSync(join(root, entry.path), executable ? 0o755 : 0o644);
  }
}

export function sha256File(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/** What manifest.json lists about one file or symlink. */
export type ManifestEntry =
  | { readonly path: string; readonly sha256: string; readonly size: number; readonly mode: string }
  | { readonly path: string; readonly symlink: string };

/** One native (ELF) file and the newest glibc / libstdc++ symbol versions it needs. */
export interface NativeFileReport {
  readonly path: string;
  readonly machine: string;
  readonly glibc: string | null;
  readonly glibcxx: string | null;
  /** The kernel version its ABI tag note names (executables), null without one. */
  readonly linux: string | null;
}

export interface BundleManifest {
  readonly name: 'rigcap';
  readonly version: string;
  readonly platform: string;
  readonly node: string;
  readonly commit: string;
  readonly sourceDateEpoch: number;
  /** The newest GLIBC_x.y that any native file needs: the oldest glibc the bundle runs on. */
  readonly glibcFloor: string | null;
  readonly native: readonly NativeFileReport[];
  readonly files: readonly ManifestEntry[];
}

export const manifestName = 'manifest.json';

/** Lists every file of the bundle folder except the manifest itself. */
export function manifestEntries(root: string): ManifestEntry[] {
  const out: ManifestEntry[] = [];
  for (const entry of walkTree(root)) {
    if (entry.path === manifestName || entry.kind === 'dir') continue;
    if (entry.kind === 'symlink') out.push({ path: entry.path, symlink: entry.target });
    else
      out.push({
        path: entry.path,
        sha256: sha256File(join(root, entry.path)),
        size: entry.size,
        mode: entry.mode.toString(8).padStart(4, '0'),
      });
  }
  return out;
}

/** Compares an unpacked bundle with its manifest; returns one line per difference (empty = intact). */
export function checkManifest(root: string): string[] {
  const manifest = JSON.parse(readFileSync(join(root, manifestName), 'utf8')) as BundleManifest;
  const problems: string[] = [];
  const listed = new Map(manifest.files.map((f) => [f.path, f]));
  for (const actual of manifestEntries(root)) {
    const expected = listed.get(actual.path);
    listed.delete(actual.path);
    if (expected === undefined) problems.push(`${actual.path}: not in the manifest`);
    else if ('symlink' in expected || 'symlink' in actual) {
      if (!('symlink' in expected && 'symlink' in actual && expected.symlink === actual.symlink))
        problems.push(`${actual.path}: symlink differs from the manifest`);
    } else if (expected.sha256 !== actual.sha256)
      problems.push(`${actual.path}: sha256 differs from the manifest`);
  }
  for (const path of listed.keys()) problems.push(`${path}: missing`);
  return problems;
}
