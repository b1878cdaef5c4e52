// ROS 2 message definitions from the installed packages (share/<pkg>/msg/*.msg, or *.idl where
// only IDL exists), concatenated exactly as rosbag2's LocalMessageDefinitionSource does, so a chunk
// carries the same schema text `ros2 bag record` would write and plays in `ros2 bag play`,
// Foxglove and PlotJuggler. Types the environment lacks fall back to the bundled common messages.

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { rosStreamSchema, type Ros2Distro } from '../ros-schemas.ts';
import type { StreamSchema } from '../types.ts';

const DELIMITER_LINE = '================================================================================\n';
// The same three patterns rosbag2 uses, so dependency discovery and ordering match byte for byte.
const PACKAGE_TYPENAME = /^([a-zA-Z0-9_]+)\/(?:msg\/|srv\/)?([a-zA-Z0-9_]+)$/;
const MSG_FIELD_TYPE = /(?:^|\n)\s*([a-zA-Z0-9_/]+)(?:\[[^\]]*\])?\s+/g;
const IDL_INCLUDE = /(?:^|\n)#include\s+(?:"|<)([a-zA-Z0-9_/]+)\.idl(?:"|>)/g;
const PRIMITIVE_TYPES = new Set([
  'bool',
  'byte',
  'char',
  'float32',
  'float64',
  'int8',
  'uint8',
  'int16',
  'uint16',
  'int32',
  'uint32',
  'int64',
  'uint64',
  'string',
]);

type DefinitionFormat = 'msg' | 'idl';

/** Where a schema came from: the installed packages or the bundled fallback. */
export type SchemaSource = 'ament' | 'bundled';

/** A resolved schema and where it was found. */
export interface ResolvedSchema {
  schema: StreamSchema;
  source: SchemaSource;
}

/** Options for {@link Ros2SchemaResolver}. */
export interface Ros2SchemaResolverOptions {
  /** AMENT_PREFIX_PATH entries, first wins (an overlay shadows the underlay). */
  amentPrefixes: readonly string[];
  /** ROS_DISTRO, to pick the bundled fallback definitions. */
  distro: string;
}

class DefinitionNotFound extends Error {}

interface DefinitionFile {
  text: string;
  dependencies: string[];
}

/** Resolves ROS 2 types to MCAP schemas, caching each type's result. */
export class Ros2SchemaResolver {
  readonly #amentPrefixes: readonly string[];
  readonly #bundledDistro: Ros2Distro;
  readonly #files = new Map<string, DefinitionFile | null>();
  readonly #resolved = new Map<string, ResolvedSchema | null>();

  constructor(options: Ros2SchemaResolverOptions) {
    this.#amentPrefixes = options.amentPrefixes;
    this.#bundledDistro = options.distro === 'humble' ? 'humble' : 'jazzy';
  }

  /** The schema for `type` (`pkg/msg/Type`), or undefined when neither the environment nor the bundle knows it. */
  resolve(type: string): ResolvedSchema | undefined {
    const cached = this.#resolved.get(type);
    if (cached !== undefined) return cached ?? undefined;
    const resolved = this.#resolveUncached(type);
    this.#resolved.set(type, resolved ?? null);
    return resolved;
  }

  #resolveUncached(type: string): ResolvedSchema | undefined {
    if (PACKAGE_TYPENAME.test(type)) {
      const fromMsg = this.#tryFullText(type, 'msg');
      if (fromMsg !== undefined) return { schema: this.#schema(type, 'ros2msg', fromMsg), source: 'ament' };
      // rosbag2 falls back to the IDL form of the whole tree when any .msg is missing.
      const fromIdl = this.#tryFullText(type, 'idl');
      if (fromIdl !== undefined) return { schema: this.#schema(type, 'ros2idl', fromIdl), source: 'ament' };
    }
    const bundled = rosStreamSchema(type, { distro: this.#bundledDistro });
    return bundled === undefined ? undefined : { schema: bundled, source: 'bundled' };
  }

  #schema(type: string, encoding: 'ros2msg' | 'ros2idl', text: string): StreamSchema {
    return { name: type, encoding, data: new TextEncoder().encode(text), messageEncoding: 'cdr' };
  }

  #tryFullText(rootType: string, format: DefinitionFormat): string | undefined {
    const seen = new Set<string>();
    const appendRecursive = (type: string, depth: number): string => {
      if (depth <= 0) throw new DefinitionNotFound(`recursion too deep resolving ${rootType}`);
      const file = this.#load(type, format);
      let result = file.text;
      for (const dependency of file.dependencies) {
        if (seen.has(dependency)) continue;
        seen.add(dependency);
        result += `\n${delimiter(dependency, format)}${appendRecursive(dependency, depth - 1)}`;
      }
      return result;
    };
    try {
      const body = appendRecursive(rootType, 50);
      return format === 'msg' ? body : delimiter(rootType, format) + body;
    } catch (err) {
      if (err instanceof DefinitionNotFound) return undefined;
      throw err;
    }
  }

  #load(type: string, format: DefinitionFormat): DefinitionFile {
    const key = `${format}:${type}`;
    let file = this.#files.get(key);
    if (file === undefined) {
      file = this.#read(type, format);
      this.#files.set(key, file);
    }
    if (file === null) throw new DefinitionNotFound(type);
    return file;
  }

  #read(type: string, format: DefinitionFormat): DefinitionFile | null {
    const match = PACKAGE_TYPENAME.exec(type);
    if (match === null) return null;
    const [, pkg = '', name = ''] = match;
    for (const prefix of this.#amentPrefixes) {
      const shareDir = join(prefix, 'share', pkg);
      if (!existsSync(shareDir)) continue;
      // ament_index stops at the first prefix that has the package, even if the file is missing.
      const path = join(shareDir, 'msg', `${name}.${format}`);
      if (!existsSync(path)) return null;
      const text = readFileSync(path, 'utf8');
      return { text, dependencies: format === 'msg' ? msgDependencies(text, pkg) : idlDependencies(text) };
    }
    return null;
  }
}

function delimiter(type: string, format: DefinitionFormat): string {
  return `${DELIMITER_LINE}${format === 'msg' ? 'MSG' : 'IDL'}: ${type}\n`;
}

/** Complex field types of a .msg text, package-qualified, sorted as rosbag2's std::set orders them. */
export function msgDependencies(text: string, packageContext: string): string[] {
  const found = new Set<string>();
  for (const match of text.matchAll(MSG_FIELD_TYPE)) {
    const type = match[1] ?? '';
    if (PRIMITIVE_TYPES.has(type)) continue;
    found.add(type.includes('/') ? type : `${packageContext}/${type}`);
  }
  return [...found].sort(byteOrder);
}

/** Included types of an .idl text (`pkg/msg/Type`), sorted. */
export function idlDependencies(text: string): string[] {
  const found = new Set<string>();
  for (const match of text.matchAll(IDL_INCLUDE)) found.add(match[1] ?? '');
  return [...found].sort(byteOrder);
}

function byteOrder(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
