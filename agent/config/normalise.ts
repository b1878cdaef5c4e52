// A validated config made ready for the code: byte sizes parsed to numbers, paths resolved against
// the config's folder, and each stream narrowed by its driver to what the schema's if/then guarantees.
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { RigcapError } from '../errors.ts';
import type { RigcapConfig, StreamConfig, ValidatedConfig, ValidatedStream } from './types.ts';

const units: Record<string, number> = {
  B: 1,
  kB: 1e3,
  KB: 1e3,
  MB: 1e6,
  GB: 1e9,
  TB: 1e12,
  KiB: 1024,
  MiB: 1024 ** 2,
  GiB: 1024 ** 3,
  TiB: 1024 ** 4,
};

/** Parses `64MiB`, `2 GB`, `1024` into bytes. */
export function parseByteSize(value: number | string): number {
  if (typeof value === 'number') return value;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*$/.exec(value);
  const factor = units[m?.[2] === '' || m?.[2] === undefined ? 'B' : m[2]];
  if (m === null || factor === undefined)
    throw new RigcapError('RIGCAP_CONFIG_INVALID', `invalid byte size ${value}`);
  return Math.round(Number(m[1]) * factor);
}

/**
 * The loaded config from a validated one. Every byte size the schema states must be parsed here:
 * the derived types make a missed one a type error.
 */
export function normaliseConfig(v: ValidatedConfig, baseDir: string): RigcapConfig {
  const abs = (p: string): string => (isAbsolute(p) ? p : resolve(baseDir, p));
  const absOrEmpty = (p: string): string => (p === '' ? p : abs(p));
  const bytes = parseByteSize;
  const spoolDir = abs(v.spool.dir);
  return {
    ...v,
    spool: {
      ...v.spool,
      dir: spoolDir,
      budgetBytes: bytes(v.spool.budgetBytes),
      minFreeBytes: bytes(v.spool.minFreeBytes),
    },
    // Private keys never live in the spool: by default beside it.
    keys: { dir: v.keys.dir === undefined ? join(dirname(spoolDir), 'secrets') : abs(v.keys.dir) },
    streams: v.streams.map((s) => streamOf(s, abs)),
    chunking: {
      ...v.chunking,
      maxBytes: bytes(v.chunking.maxBytes),
      mcapChunkBytes: bytes(v.chunking.mcapChunkBytes),
    },
    policy: { ...v.policy, geofencesFile: absOrEmpty(v.policy.geofencesFile) },
    calibration: { ...v.calibration, files: v.calibration.files.map(abs) },
    deid: {
      ...v.deid,
      holdingBytes: bytes(v.deid.holdingBytes),
      customModels: v.deid.customModels.map((m) => ({ ...m, path: abs(m.path) })),
    },
    sync: {
      ...v.sync,
      partBytes: bytes(v.sync.partBytes),
      bandwidthBytesPerSec: bytes(v.sync.bandwidthBytesPerSec),
      storeKeyFile: absOrEmpty(v.sync.storeKeyFile),
      // A keyid (64 hex) is not a path; anything else names a PEM file.
      storeKey: /^[0-9a-f]{64}$/.test(v.sync.storeKey) ? v.sync.storeKey : absOrEmpty(v.sync.storeKey),
      caFile: absOrEmpty(v.sync.caFile),
    },
  };
}

/** One stream, its byte sizes parsed and narrowed by driver. */
function streamOf(s: ValidatedStream, abs: (p: string) => string): StreamConfig {
  const { snapshot, ...rest } = s;
  const common = {
    ...rest,
    queue: { ...s.queue, maxBytes: parseByteSize(s.queue.maxBytes) },
    maxMessageBytes: parseByteSize(s.maxMessageBytes),
    ...(snapshot === undefined
      ? {}
      : { snapshot: { ...snapshot, maxBytes: parseByteSize(snapshot.maxBytes) } }),
  };
  const key = <T>(value: T | undefined, name: string): T => {
    if (value === undefined)
      throw new RigcapError('RIGCAP_INTERNAL', `validated ${s.driver} stream ${s.name} lacks ${name}`);
    return value;
  };
  switch (s.driver) {
    case 'zmq':
      return {
        ...common,
        driver: 'zmq',
        endpoint: key(s.endpoint, 'endpoint'),
        socket: key(s.socket, 'socket'),
        bind: key(s.bind, 'bind'),
      };
    case 'mcap-replay':
      return {
        ...common,
        driver: 'mcap-replay',
        file: abs(key(s.file, 'file')),
        speed: key(s.speed, 'speed'),
        sourceTopic: s.sourceTopic ?? s.topic,
      };
    case 'ros2':
      return { ...common, driver: 'ros2', qos: key(s.qos, 'qos') };
  }
}
