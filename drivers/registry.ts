// Builds drivers from stream configs: groups streams that share a transport instance and imports
// each driver module only when a stream names it, so an optional native dependency (rclnodejs)
// costs nothing until it is configured, and then fails with a coded, readable error.
import type { Logger } from 'pino';
import { DriverError } from './errors.ts';
import type { DriverStreamConfig } from './stream-config.ts';
import type { Driver } from './types.ts';

/** What every driver module (`drivers/<name>/index.ts`) exports. */
export interface DriverModule<S extends DriverStreamConfig = DriverStreamConfig> {
  /** Builds one driver for a group of streams that share a transport instance. */
  createDriver(streams: readonly S[], deps: DriverDeps): Driver | Promise<Driver>;
}

/** Dependencies handed to every driver. */
export interface DriverDeps {
  readonly log: Logger;
  /** The config's `ros2:` discovery section; with `enabled` a ROS 2 driver runs even with no ros2 stream. */
  readonly ros2?: {
    readonly enabled: boolean;
    readonly include: readonly string[];
    readonly exclude: readonly string[];
    readonly discoveryIntervalMs: number;
    readonly nodeName: string;
  };
}

/** The `driver:` names the registry knows. */
export const driverNames = ['zmq', 'mcap-replay', 'ros2'] as const;
export type DriverName = (typeof driverNames)[number];

type ModuleLoader = () => Promise<unknown>;

const defaultLoaders: Readonly<Record<DriverName, ModuleLoader>> = {
  zmq: () => import('./zmq/index.ts'),
  'mcap-replay': () => import('./mcap-replay/index.ts'),
  ros2: () => import('./ros2/index.ts'),
};

/** The key that puts streams into one driver instance (one socket, one file, one ROS node). */
export function driverGroupKey(stream: DriverStreamConfig): string {
  switch (stream.driver) {
    case 'zmq':
      return `zmq|${stream.socket}|${stream.bind ? 'bind' : 'connect'}|${stream.endpoint}`;
    case 'mcap-replay':
      return `mcap-replay|${stream.speed}|${stream.file}`;
    case 'ros2':
      return 'ros2';
  }
}

/** Groups streams by driver instance, keeping config order. */
export function groupStreams(streams: readonly DriverStreamConfig[]): Map<string, DriverStreamConfig[]> {
  const groups = new Map<string, DriverStreamConfig[]>();
  for (const stream of streams) {
    const name: string = stream.driver;
    if (!(driverNames as readonly string[]).includes(name)) {
      throw new DriverError(
        'RIGCAP_DRIVER_UNKNOWN',
        `stream ${stream.name}: unknown driver '${name}' (known: ${driverNames.join(', ')})`,
        { details: { stream: stream.name, driver: name } },
      );
    }
    const key = driverGroupKey(stream);
    const group = groups.get(key);
    if (group === undefined) groups.set(key, [stream]);
    else group.push(stream);
  }
  return groups;
}

async function loadModule(name: DriverName, loader: ModuleLoader): Promise<DriverModule> {
  let loaded: unknown;
  try {
    loaded = await loader();
  } catch (err) {
    const hint = name === 'ros2' ? ' (it needs rclnodejs and a sourced ROS 2 installation)' : '';
    throw new DriverError(
      'RIGCAP_DRIVER_UNAVAILABLE',
      `driver '${name}' could not be loaded${hint}: ${(err as Error).message}`,
      { cause: err, details: { driver: name } },
    );
  }
  const createDriver = (loaded as Partial<DriverModule> | null)?.createDriver;
  if (typeof createDriver !== 'function') {
    throw new DriverError(
      'RIGCAP_DRIVER_UNAVAILABLE',
      `driver module '${name}' does not export createDriver(streams, deps)`,
      { details: { driver: name } },
    );
  }
  return loaded as DriverModule;
}

/**
 * One driver per transport instance for the given streams (not yet opened). Driver modules are
 * imported lazily by name; `loaders` replaces them in tests.
 */
export async function createDrivers(
  streams: readonly DriverStreamConfig[],
  deps: DriverDeps,
  options: { loaders?: Partial<Record<DriverName, ModuleLoader>> } = {},
): Promise<Driver[]> {
  const groups = groupStreams(streams);
  // Discovery needs a ROS node even when no ros2 stream is listed.
  if (deps.ros2?.enabled === true && ![...groups.values()].some((g) => g[0]?.driver === 'ros2'))
    groups.set('ros2', []);
  const modules = new Map<DriverName, DriverModule>();
  const drivers: Driver[] = [];
  for (const group of groups.values()) {
    const name = group[0]?.driver ?? (group.length === 0 ? 'ros2' : undefined);
    if (name === undefined) continue;
    let module = modules.get(name);
    if (module === undefined) {
      module = await loadModule(name, options.loaders?.[name] ?? defaultLoaders[name]);
      modules.set(name, module);
    }
    drivers.push(await module.createDriver(group, deps));
  }
  return drivers;
}
