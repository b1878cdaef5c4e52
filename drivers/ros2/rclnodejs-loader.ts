// Loads rclnodejs only when a ros2 stream is configured, and only if it can load without side
// effects: rclnodejs compiles its native addon on import when no binary matches, which must never
// happen inside a running capture daemon.

import { accessSync, constants, existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Ros2DriverError } from './errors.ts';
import type { RclnodejsModule } from './rclnodejs-api.ts';

/** The sourced ROS 2 environment the driver runs in. */
export interface Ros2Environment {
  distro: string;
  /** AMENT_PREFIX_PATH entries, in lookup order. */
  amentPrefixes: string[];
}

/** Environment variables as a plain record (process.env or a test's copy). */
export type EnvironmentVariables = Readonly<Record<string, string | undefined>>;

/** Reads ROS_DISTRO and AMENT_PREFIX_PATH, failing with RIGCAP_ROS2_ENV_MISSING when unsourced. */
export function readRos2Environment(env: EnvironmentVariables): Ros2Environment {
  const distro = env['ROS_DISTRO'] ?? '';
  const amentPrefixes = (env['AMENT_PREFIX_PATH'] ?? '').split(':').filter((p) => p.length > 0);
  if (distro === '' || amentPrefixes.length === 0) {
    const missing = [distro === '' ? 'ROS_DISTRO' : '', amentPrefixes.length === 0 ? 'AMENT_PREFIX_PATH' : '']
      .filter((name) => name !== '')
      .join(' and ');
    throw new Ros2DriverError(
      'RIGCAP_ROS2_ENV_MISSING',
      `ROS 2 streams are configured but ${missing} ${missing.includes(' and ') ? 'are' : 'is'} not set: ` +
        'source /opt/ros/<distro>/setup.bash before starting rigcap (the systemd unit does it through scripts/ros-env.sh).',
    );
  }
  return { distro, amentPrefixes };
}

/** Loads a module by specifier; injectable so tests never touch the real package. */
export type ModuleImporter = (specifier: string) => Promise<unknown>;

/** Options for {@link loadInstalledRclnodejs}. */
export interface LoadRclnodejsOptions {
  env: EnvironmentVariables;
  /** Where to resolve `rclnodejs` from (defaults to this file). */
  resolveFrom?: string;
  importModule?: ModuleImporter;
}

/** Imports the installed rclnodejs if a built native binding exists; never triggers a build. */
export async function loadInstalledRclnodejs(options: LoadRclnodejsOptions): Promise<RclnodejsModule> {
  const environment = readRos2Environment(options.env);
  if (options.env['RCLNODEJS_FORCE_BUILD'] === '1') {
    // rclnodejs runs `npm run rebuild` on import when this is set.
    throw new Ros2DriverError(
      'RIGCAP_ROS2_UNAVAILABLE',
      'RCLNODEJS_FORCE_BUILD=1 would rebuild rclnodejs at start: build it once with `npm rebuild rclnodejs`, then unset the variable.',
    );
  }
  const packageDir = findRclnodejsPackageDir(options.resolveFrom ?? import.meta.url);
  if (packageDir === undefined) {
    throw new Ros2DriverError(
      'RIGCAP_ROS2_UNAVAILABLE',
      'rclnodejs is not installed: after sourcing /opt/ros/<distro>/setup.bash run `npm install rclnodejs` in the rigcap folder.',
    );
  }
  if (!hasBuiltBinding(packageDir, environment.distro)) {
    throw new Ros2DriverError(
      'RIGCAP_ROS2_UNAVAILABLE',
      `rclnodejs at ${packageDir} has no native binding built for ROS ${environment.distro}: ` +
        'source /opt/ros/<distro>/setup.bash and run `npm rebuild rclnodejs` (rigcap never builds it while capturing).',
    );
  }
  checkGeneratedCode(packageDir);
  // Import the very package checked above: resolved the same way, then imported by its file URL.
  const requireFrom = createRequire(options.resolveFrom ?? import.meta.url);
  const importModule =
    options.importModule ??
    ((specifier: string) => import(pathToFileURL(requireFrom.resolve(specifier)).href) as Promise<unknown>);
  let loaded: unknown;
  // rclnodejs adds a SIGINT listener at import that shuts its context down at once; rigcap's own
  // handler runs the ordered shutdown (drivers close their nodes in step 1), so that listener goes.
  const sigintBefore = new Set(process.listeners('SIGINT'));
  try {
    loaded = await importModule('rclnodejs');
  } catch (err) {
    throw new Ros2DriverError(
      'RIGCAP_ROS2_UNAVAILABLE',
      `rclnodejs failed to load (${(err as Error).message}): source /opt/ros/<distro>/setup.bash, then \`npm rebuild rclnodejs\`.`,
      { cause: err },
    );
  } finally {
    // Also when the import failed half-way: a listener it left must not outlive it.
    for (const listener of process.listeners('SIGINT'))
      if (!sigintBefore.has(listener)) process.removeListener('SIGINT', listener);
  }
  const rcl = unwrapDefault(loaded);
  rcl.removeSignalHandlers?.();
  if (rcl.SubscriptionEventCallbacks === undefined) {
    // Some releases keep the event classes out of the top-level exports (their own tests import
    // lib/event_handler.js); without them message loss cannot be counted, so look there too.
    try {
      const events = (await importModule('rclnodejs/lib/event_handler.js')) as {
        default?: Partial<RclnodejsModule>;
      } & Partial<RclnodejsModule>;
      const Callbacks = events.SubscriptionEventCallbacks ?? events.default?.SubscriptionEventCallbacks;
      if (Callbacks !== undefined)
        return {
          ...rcl,
          init: rcl.init.bind(rcl),
          shutdown: rcl.shutdown.bind(rcl),
          createNode: rcl.createNode.bind(rcl),
          SubscriptionEventCallbacks: Callbacks,
        };
    } catch (err) {
      // Older rclnodejs: no subscription events at all (the file is absent or not exported).
      if (!moduleMissing(err)) throw err;
    }
  }
  return rcl;
}

/**
 * rclnodejs's init() writes generated message code into `<package>/generated` when it is missing
 * or stale. Under the unit's ProtectSystem=strict the package folder is read-only, so the code
 * must be generated at install; without it, fail here with the fix instead of inside init().
 */
export function checkGeneratedCode(packageDir: string): void {
  const generated = join(packageDir, 'generated');
  if (existsSync(join(generated, 'generator.json'))) return;
  const writable = existsSync(generated) ? generated : packageDir;
  try {
    accessSync(writable, constants.W_OK);
  } catch (err) {
    const errno = (err as { code?: unknown }).code;
    throw new Ros2DriverError(
      'RIGCAP_ROS2_GENERATED_READONLY',
      `rclnodejs has no generated message code in ${generated} and cannot write it there (${typeof errno === 'string' ? errno : String(err)}): ` +
        'generate it at install (scripts/install.sh runs `generate-ros-messages` in the sourced ROS environment).',
      { cause: err, details: { folder: generated } },
    );
  }
}

/** Maps an init() failure to a coded error: a read-only generated folder gets its own code. */
export function initFailure(err: unknown): Ros2DriverError {
  const errno = (err as { code?: unknown } | null)?.code;
  const path = (err as { path?: unknown } | null)?.path;
  if (errno === 'EROFS' || errno === 'EACCES' || errno === 'EPERM') {
    return new Ros2DriverError(
      'RIGCAP_ROS2_GENERATED_READONLY',
      `rclnodejs.init() could not write its generated message code${typeof path === 'string' ? ` at ${path}` : ''} (${errno}): ` +
        'generate it at install (scripts/install.sh runs `generate-ros-messages` in the sourced ROS environment).',
      { cause: err, details: typeof path === 'string' ? { path } : {} },
    );
  }
  return new Ros2DriverError(
    'RIGCAP_ROS2_INIT_FAILED',
    `rclnodejs.init() failed: ${err instanceof Error ? err.message : String(err)}`,
    { cause: err },
  );
}

function unwrapDefault(loaded: unknown): RclnodejsModule {
  const withDefault = loaded as { default?: unknown };
  const candidate = (withDefault.default ?? loaded) as Partial<RclnodejsModule>;
  if (typeof candidate.init !== 'function' || typeof candidate.createNode !== 'function') {
    throw new Ros2DriverError(
      'RIGCAP_ROS2_UNAVAILABLE',
      'the module named rclnodejs does not look like rclnodejs (no init/createNode).',
    );
  }
  return candidate as RclnodejsModule;
}

function findRclnodejsPackageDir(resolveFrom: string): string | undefined {
  let entry: string;
  try {
    entry = createRequire(resolveFrom).resolve('rclnodejs');
  } catch (err) {
    if (!moduleMissing(err)) throw err;
    return undefined;
  }
  // Walk up from the entry file to the folder holding rclnodejs's package.json.
  for (let dir = dirname(entry); dir !== dirname(dir); dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'lib'))) return dir;
  }
  return undefined;
}

function hasBuiltBinding(packageDir: string, distro: string): boolean {
  for (const built of ['build/Release/rclnodejs.node', 'build/Debug/rclnodejs.node']) {
    if (existsSync(join(packageDir, built))) return true;
  }
  const prebuildDir = join(packageDir, 'prebuilds', `${process.platform}-${process.arch}`);
  if (!existsSync(prebuildDir)) return false;
  return readdirSync(prebuildDir).some((name) => name.includes(distro) && name.endsWith('.node'));
}

/** True when an import or resolve failed because the module (or that path of it) is not there. */
function moduleMissing(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return (
    code === 'MODULE_NOT_FOUND' || code === 'ERR_MODULE_NOT_FOUND' || code === 'ERR_PACKAGE_PATH_NOT_EXPORTED'
  );
}
