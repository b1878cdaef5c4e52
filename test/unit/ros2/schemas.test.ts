import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { zstdDecompressSync } from 'node:zlib';
import { McapStreamReader, type TypedMcapRecords } from '@mcap/core';
import { describe, expect, it } from 'vitest';
import {
  Ros2SchemaResolver,
  idlDependencies,
  msgDependencies,
} from '../../../drivers/ros2/message-definitions.ts';

const fixtures = fileURLToPath(new URL('../../fixtures/ros2/', import.meta.url));
const ament = `${fixtures}ament`;

/** Every schema record of a real rosbag2 recording, by name. */
function recordedSchemas(file: string): Map<string, TypedMcapRecords['Schema']> {
  const reader = new McapStreamReader({ decompressHandlers: { zstd: (data) => zstdDecompressSync(data) } });
  reader.append(readFileSync(file));
  const schemas = new Map<string, TypedMcapRecords['Schema']>();
  for (let record = reader.nextRecord(); record !== undefined; record = reader.nextRecord()) {
    if (record.type === 'Schema') schemas.set(record.name, record);
  }
  return schemas;
}

describe('Ros2SchemaResolver', () => {
  const recorded = recordedSchemas(`${fixtures}rosbag2-only_topics.mcap`);

  it.each(['rcl_interfaces/msg/ParameterEvent', 'rcl_interfaces/msg/Log'])(
    'writes the same ros2msg schema bytes rosbag2 recorded for %s',
    (type) => {
      const resolver = new Ros2SchemaResolver({
        amentPrefixes: ['/nonexistent-overlay', ament],
        distro: 'jazzy',
      });
      const resolved = resolver.resolve(type);
      const expected = recorded.get(type);
      expect(expected).toBeDefined();
      expect(resolved?.source).toBe('ament');
      expect(resolved?.schema.encoding).toBe(expected?.encoding);
      expect(resolved?.schema.name).toBe(type);
      expect(Buffer.from(resolved?.schema.data ?? []).toString('utf8')).toBe(
        Buffer.from(expected?.data ?? []).toString('utf8'),
      );
    },
  );

  it('falls back to IDL (ros2idl, every section delimited) when a package ships no .msg', () => {
    const resolver = new Ros2SchemaResolver({ amentPrefixes: [ament], distro: 'jazzy' });
    const resolved = resolver.resolve('rigcap_test_msgs/msg/Reading');
    const text = Buffer.from(resolved?.schema.data ?? []).toString('utf8');
    expect(resolved?.schema.encoding).toBe('ros2idl');
    expect(text.startsWith('='.repeat(80) + '\nIDL: rigcap_test_msgs/msg/Reading\n')).toBe(true);
    expect(text).toContain('\n' + '='.repeat(80) + '\nIDL: builtin_interfaces/msg/Time\n');
    expect(text).toContain('struct Reading');
  });

  it('falls back to the bundled definitions for packages the environment lacks', () => {
    const resolver = new Ros2SchemaResolver({ amentPrefixes: [ament], distro: 'humble' });
    const resolved = resolver.resolve('sensor_msgs/msg/Imu');
    expect(resolved?.source).toBe('bundled');
    expect(resolved?.schema.encoding).toBe('ros2msg');
    expect(Buffer.from(resolved?.schema.data ?? []).toString('utf8')).toContain('MSG: std_msgs/Header');
  });

  it('returns undefined for a type nobody defines', () => {
    const resolver = new Ros2SchemaResolver({ amentPrefixes: [ament], distro: 'jazzy' });
    expect(resolver.resolve('nobody_msgs/msg/Nothing')).toBeUndefined();
  });

  it('finds dependencies like rosbag2: package-relative names qualified, primitives and comments skipped, sorted', () => {
    const text =
      '# Header header\nHeader header\nbuiltin_interfaces/Time stamp\nuint8[] data\nPoint[<=3] points\nfloat64 x 0.5\n';
    expect(msgDependencies(text, 'geometry_msgs')).toEqual([
      'builtin_interfaces/Time',
      'geometry_msgs/Header',
      'geometry_msgs/Point',
    ]);
    expect(idlDependencies('#include "b/msg/B.idl"\n#include <a/msg/A.idl>\n')).toEqual([
      'a/msg/A',
      'b/msg/B',
    ]);
  });
});
