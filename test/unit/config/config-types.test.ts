import { describe, expect, expectTypeOf, it } from 'vitest';
import { parseConfig } from '../../../agent/config/load.ts';
import { byteSize, configSchema } from '../../../agent/config/schema.ts';
import type {
  McapReplayStreamConfig,
  RigcapConfig,
  Ros2StreamConfig,
  ZmqStreamConfig,
} from '../../../agent/config/types.ts';

// The config types are derived from the schema (agent/config/types.ts). These assertions are checked
// by the compiler: a type that stops naming exactly the properties its schema section states (a key
// written by hand beside the schema, or one dropped by an override) fails typecheck here.
type Props = (typeof configSchema)['properties'];
type KeysOf<S extends keyof Props> = Props[S] extends { properties: infer P } ? keyof P : never;
type StreamKeys = keyof (typeof configSchema)['properties']['streams']['items']['properties'];
type OtherDrivers<K extends StreamKeys> = Exclude<
  'endpoint' | 'socket' | 'bind' | 'file' | 'speed' | 'sourceTopic' | 'qos',
  K
>;

describe('config types and the config schema', () => {
  it('each type names exactly the properties its schema section states', () => {
    expectTypeOf<keyof RigcapConfig>().toEqualTypeOf<keyof Props>();
    expectTypeOf<keyof RigcapConfig['rig']>().toEqualTypeOf<KeysOf<'rig'>>();
    expectTypeOf<keyof RigcapConfig['spool']>().toEqualTypeOf<KeysOf<'spool'>>();
    expectTypeOf<keyof RigcapConfig['keys']>().toEqualTypeOf<KeysOf<'keys'>>();
    expectTypeOf<keyof RigcapConfig['ros2']>().toEqualTypeOf<KeysOf<'ros2'>>();
    expectTypeOf<keyof RigcapConfig['chunking']>().toEqualTypeOf<KeysOf<'chunking'>>();
    expectTypeOf<keyof RigcapConfig['policy']>().toEqualTypeOf<KeysOf<'policy'>>();
    expectTypeOf<keyof RigcapConfig['calibration']>().toEqualTypeOf<KeysOf<'calibration'>>();
    expectTypeOf<keyof RigcapConfig['timesync']>().toEqualTypeOf<KeysOf<'timesync'>>();
    expectTypeOf<keyof RigcapConfig['deid']>().toEqualTypeOf<KeysOf<'deid'>>();
    expectTypeOf<keyof RigcapConfig['sync']>().toEqualTypeOf<KeysOf<'sync'>>();
    expectTypeOf<keyof RigcapConfig['ops']>().toEqualTypeOf<KeysOf<'ops'>>();
    // A stream of one driver has the common keys and its own driver's, not the others'.
    expectTypeOf<keyof ZmqStreamConfig>().toEqualTypeOf<
      Exclude<StreamKeys, OtherDrivers<'endpoint' | 'socket' | 'bind'>>
    >();
    expectTypeOf<keyof McapReplayStreamConfig>().toEqualTypeOf<
      Exclude<StreamKeys, OtherDrivers<'file' | 'speed' | 'sourceTopic'>>
    >();
    expectTypeOf<keyof Ros2StreamConfig>().toEqualTypeOf<Exclude<StreamKeys, OtherDrivers<'qos'>>>();
    // Byte sizes are numbers once loaded.
    expectTypeOf<RigcapConfig['deid']['holdingBytes']>().toEqualTypeOf<number>();
    expectTypeOf<ZmqStreamConfig['queue']['maxBytes']>().toEqualTypeOf<number>();
  });

  /** Schema paths (`*` for array items) of the nodes matching `test`. */
  function schemaPaths(test: (node: Record<string, unknown>) => boolean): string[] {
    const out: string[] = [];
    const walk = (node: unknown, path: string[]): void => {
      if (node === null || typeof node !== 'object') return;
      const n = node as Record<string, unknown>;
      if (path.length > 0 && test(n)) out.push(path.join('.'));
      for (const [k, v] of Object.entries((n['properties'] ?? {}) as object)) walk(v, [...path, k]);
      if (n['items'] !== undefined) walk(n['items'], [...path, '*']);
    };
    walk(configSchema, []);
    return out;
  }

  /** The values at a schema path in a loaded config (one per array item). */
  function valuesAt(node: unknown, segs: string[]): unknown[] {
    const [head, ...rest] = segs;
    if (head === undefined) return [node];
    if (node === null || typeof node !== 'object') return [];
    if (head === '*') return Array.isArray(node) ? node.flatMap((item) => valuesAt(item, rest)) : [];
    return valuesAt((node as Record<string, unknown>)[head], rest);
  }

  const everyDriver = `
version: 1
rig: { id: rig-01 }
spool: { dir: ./spool }
streams:
  - { name: imu, driver: zmq, endpoint: tcp://127.0.0.1:5555, topic: /imu, type: sensor_msgs/msg/Imu,
      queue: { maxBytes: 2KiB }, maxMessageBytes: 1KiB, snapshot: { preMs: 1, postMs: 1, maxBytes: 1KiB } }
  - { name: bag, driver: mcap-replay, file: ./a.mcap, topic: /bag, type: x/msg/Y, queue: { maxBytes: 2KiB },
      maxMessageBytes: 1KiB }
  - { name: cam, driver: ros2, topic: /cam, type: sensor_msgs/msg/Imu, queue: { maxBytes: 2KiB }, maxMessageBytes: 1KiB }
`;

  it('every byte size the schema states is a number of bytes once loaded', () => {
    const paths = schemaPaths((n) => n['anyOf'] === byteSize.anyOf);
    expect(paths).toContain('deid.holdingBytes');
    expect(paths).toContain('streams.*.snapshot.maxBytes');
    const { config } = parseConfig(everyDriver, { baseDir: '/etc/rigcap' });
    for (const path of paths) {
      const values = valuesAt(config, path.split('.'));
      expect(values.length, path).toBeGreaterThan(0);
      for (const v of values) expect(typeof v, path).toBe('number');
    }
    expect(valuesAt(config, ['streams', '*', 'maxMessageBytes'])).toEqual([1024, 1024, 1024]);
  });

  it('every property with a schema default is present once loaded, as its type says', () => {
    const paths = schemaPaths((n) => 'default' in n).filter((p) => !p.startsWith('streams.'));
    expect(paths.length).toBeGreaterThan(50);
    const { config } = parseConfig(everyDriver, { baseDir: '/etc/rigcap' });
    for (const path of paths) expect(valuesAt(config, path.split('.')), path).not.toEqual([undefined]);
    const [zmq, replay, ros2] = config.streams;
    expect(zmq).toMatchObject({ driver: 'zmq', socket: 'sub', bind: false, deid: { exempt: false } });
    expect(replay).toMatchObject({
      driver: 'mcap-replay',
      speed: 'max',
      sourceTopic: '/bag',
      file: '/etc/rigcap/a.mcap',
    });
    expect(ros2).toMatchObject({
      driver: 'ros2',
      qos: { reliability: 'auto', durability: 'auto', depth: 10 },
    });
  });
});
