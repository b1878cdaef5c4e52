// Native addons that the npm registry does not ship prebuilt for Node 22: better-sqlite3 (V8 ABI,
// built with node-gyp against the bundled Node's headers) and the sd_notify Node-API addon, both
// compiled here with the target's GCC (Debian's gcc-aarch64-linux-gnu for arm64).
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { buildSdNotify } from '../build-sd-notify.js';

export type BundleArch = 'x64' | 'arm64';

/** The C/C++ toolchain that builds for one architecture on this machine. */
export interface Toolchain {
  readonly arch: BundleArch;
  readonly cc: string;
  readonly cxx: string;
  readonly ar: string;
}

const gnuTriples: Record<BundleArch, string> = { x64: 'x86_64-linux-gnu', arm64: 'aarch64-linux-gnu' };
const debianPackages: Record<BundleArch, string> = {
  x64: 'gcc-x86-64-linux-gnu g++-x86-64-linux-gnu',
  arm64: 'gcc-aarch64-linux-gnu g++-aarch64-linux-gnu',
};

/** The host's compilers for its own architecture, the `<triple>-gcc` cross compilers otherwise. */
export function toolchainFor(arch: BundleArch): Toolchain {
  if (process.arch === arch) return { arch, cc: 'gcc', cxx: 'g++', ar: 'ar' };
  const t = gnuTriples[arch];
  return { arch, cc: `${t}-gcc`, cxx: `${t}-g++`, ar: `${t}-ar` };
}

/** Throws with the package to install when a compiler of the toolchain does not run. */
export function checkToolchain(tc: Toolchain): void {
  for (const tool of [tc.cc, tc.cxx]) {
    const r = spawnSync(tool, ['--version'], { stdio: 'ignore' });
    if (r.error !== undefined || r.status !== 0)
      throw new Error(
        `${tool} is not installed; it builds the native addons for linux-${tc.arch} (apt-get install ${
          process.arch === tc.arch ? 'gcc g++' : debianPackages[tc.arch]
        } make python3)`,
      );
  }
}

/** Flags that keep the staging path out of the binaries. */
function reproducibleFlags(stageDir: string): string[] {
  return [`-ffile-prefix-map=${stageDir}=.`, '-fno-ident'];
}

function nodeGypScript(): string {
  const npmRoot = spawnSync('npm', ['root', '-g'], { encoding: 'utf8' }).stdout.trim();
  // `npm root -g` follows the Node first on PATH (the project's Node 22, which ships no npm), so the
  // npm that is actually on PATH is asked too: its own folder holds the node-gyp it runs.
  const npmCli = spawnSync('sh', ['-c', 'readlink -f "$(command -v npm)"'], {
    encoding: 'utf8',
  }).stdout.trim();
  const candidates = [
    join(npmRoot, 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
    ...(npmCli === ''
      ? []
      : [join(dirname(dirname(npmCli)), 'node_modules', 'node-gyp', 'bin', 'node-gyp.js')]),
    join(
      dirname(dirname(process.execPath)),
      'lib',
      'node_modules',
      'npm',
      'node_modules',
      'node-gyp',
      'bin',
      'node-gyp.js',
    ),
  ];
  const found = candidates.find((c) => existsSync(c));
  if (found === undefined)
    throw new Error(`node-gyp not found (looked in ${candidates.join(', ')}); it ships with npm`);
  return found;
}

const compatHeader = join(import.meta.dirname, 'glibc-compat.h');
const compatSource = join(import.meta.dirname, 'glibc-compat.c');
const wrapped = ['stat', 'fstat', 'lstat', 'stat64', 'fstat64', 'lstat64'];

/** Compiles glibc-compat.c for the target; returns the flags that link it in (see glibc-compat.h). */
function glibcCompat(stageDir: string, tc: Toolchain): { cflags: string[]; ldflags: string[] } {
  const object = join(stageDir, `glibc-compat-${tc.arch}.o`);
  const r = spawnSync(
    tc.cc,
    ['-c', '-fPIC', '-O2', ...reproducibleFlags(stageDir), compatSource, '-o', object],
    {
      encoding: 'utf8',
    },
  );
  if (r.status !== 0) throw new Error(`glibc-compat.c for ${tc.arch}: ${r.error?.message ?? r.stderr}`);
  return {
    cflags: ['-include', compatHeader],
    ldflags: [object, `-Wl,${wrapped.map((s) => `--wrap=${s}`).join(',')}`],
  };
}

/** What decides the addon's bytes: its source, the Node headers, the compiler and the flags. */
function addonKey(dir: string, headersDir: string, tc: Toolchain): string {
  const version = spawnSync(tc.cxx, ['--version'], { encoding: 'utf8' }).stdout;
  return createHash('sha256')
    .update(readFileSync(join(dir, 'package.json')))
    .update(readFileSync(join(headersDir, 'include', 'node', 'node_version.h')))
    .update(readFileSync(compatHeader))
    .update(readFileSync(compatSource))
    .update(`${tc.arch}\0${version}\0${wrapped.join(',')}\0${reproducibleFlags('').join(' ')}`)
    .digest('hex');
}

/**
 * The environment for node-gyp: npm's config reaches it as npm_config_* variables, which override its
 * command line (a user's `nodedir=/usr` would build against the system Node's headers), so only
 * the bundle's own settings go in.
 */
function gypEnv(headersDir: string, arch: BundleArch): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env))
    if (!/^npm_(config|package_config_node_gyp)_/i.test(key)) env[key] = value;
  return {
    ...env,
    npm_config_nodedir: headersDir,
    npm_config_arch: arch,
    npm_config_build_from_source: 'true',
  };
}

/**
 * Builds better-sqlite3 in place for the target and keeps only its addon. With `cacheDir`, an addon
 * compiled earlier from the same source, headers, compiler and flags is reused (the build is
 * deterministic, so it is the same bytes).
 */
export function buildBetterSqlite3(options: {
  appDir: string;
  stageDir: string;
  headersDir: string;
  toolchain: Toolchain;
  log: (line: string) => void;
  /** NODE_MODULE_VERSION of the bundled Node: the addon must register for exactly this ABI. */
  nodeAbi: string;
  cacheDir?: string | undefined;
}): void {
  const dir = join(options.appDir, 'node_modules', 'better-sqlite3');
  const tc = options.toolchain;
  const addon = join(dir, 'build', 'Release', 'better_sqlite3.node');
  const cached =
    options.cacheDir === undefined
      ? undefined
      : join(options.cacheDir, `better_sqlite3-${addonKey(dir, options.headersDir, tc)}.node`);
  if (cached !== undefined && existsSync(cached)) {
    options.log(`bundle: better-sqlite3 for linux-${tc.arch} from ${cached}`);
    for (const gone of ['build', 'deps', 'src']) rmSync(join(dir, gone), { recursive: true, force: true });
    mkdirSync(dirname(addon), { recursive: true });
    copyFileSync(cached, addon);
    return;
  }
  const compat = glibcCompat(options.stageDir, tc);
  const flags = [...reproducibleFlags(options.stageDir), ...compat.cflags].join(' ');
  options.log(`bundle: building better-sqlite3 for linux-${tc.arch} with ${tc.cxx}`);
  const r = spawnSync(
    process.execPath,
    [
      nodeGypScript(),
      'rebuild',
      '--release',
      `--nodedir=${options.headersDir}`,
      `--arch=${tc.arch}`,
      '--jobs=2',
    ],
    {
      cwd: dir,
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
      env: {
        ...gypEnv(options.headersDir, tc.arch),
        CC: tc.cc,
        CXX: tc.cxx,
        LINK: tc.cxx,
        AR: tc.ar,
        CFLAGS: flags,
        CXXFLAGS: flags,
        LDFLAGS: compat.ldflags.join(' '),
      },
    },
  );
  if (r.status !== 0)
    throw new Error(`better-sqlite3 build for ${tc.arch} failed:\n${r.stdout}\n${r.stderr}`);
  const symbols = spawnSync('readelf', ['--dyn-syms', '-W', addon], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  if (!symbols.stdout.includes(`node_register_module_v${options.nodeAbi}`))
    throw new Error(`better-sqlite3 was not built for Node ABI ${options.nodeAbi} (wrong headers?)`);
  const kept = join(dir, 'better_sqlite3.node.tmp');
  renameSync(addon, kept);
  for (const gone of ['build', 'deps', 'src']) rmSync(join(dir, gone), { recursive: true, force: true });
  mkdirSync(dirname(addon), { recursive: true });
  renameSync(kept, addon);
  if (cached !== undefined) {
    mkdirSync(dirname(cached), { recursive: true });
    copyFileSync(addon, `${cached}.tmp`);
    renameSync(`${cached}.tmp`, cached);
  }
}

/** Builds the sd_notify addon (plain C, Node-API) for the target into the staged app. */
export function buildSdNotifyFor(options: { appDir: string; stageDir: string; toolchain: Toolchain }): void {
  const output = join(options.appDir, 'agent', 'ops', 'native', 'build', 'sd_notify.node');
  const problem = buildSdNotify({
    output,
    cc: options.toolchain.cc,
    force: true,
    flags: reproducibleFlags(options.stageDir),
  });
  if (problem !== null) throw new Error(`sd_notify addon for ${options.toolchain.arch}: ${problem}`);
}
