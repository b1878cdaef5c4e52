import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cdrByteOrder, readLeadingStampNs } from '../../../drivers/ros2/cdr-header-stamp.ts';
import { offeredQosProfilesYaml } from '../../../drivers/ros2/qos.ts';
import { TopicSelector, discoveredStreamName } from '../../../drivers/ros2/topic-selection.ts';
import { offeredProfile } from '../../support/ros2/fake-rclnodejs.ts';

function stamped(kind: number, sec: number, nanosec: number, littleEndian: boolean): Uint8Array {
  const bytes = new Uint8Array(16);
  bytes[1] = kind;
  const view = new DataView(bytes.buffer);
  view.setInt32(4, sec, littleEndian);
  view.setUint32(8, nanosec, littleEndian);
  return bytes;
}

describe('readLeadingStampNs', () => {
  it('reads sec/nanosec in the byte order the encapsulation names', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
        fc.integer({ min: 0, max: 999_999_999 }),
        fc.constantFrom(0x00, 0x01, 0x06, 0x07),
        (sec, nanosec, kind) => {
          const littleEndian = kind % 2 === 1;
          expect(cdrByteOrder(stamped(kind, sec, nanosec, littleEndian))).toBe(littleEndian ? 'le' : 'be');
          expect(readLeadingStampNs(stamped(kind, sec, nanosec, littleEndian))).toBe(
            BigInt(sec) * 1_000_000_000n + BigInt(nanosec),
          );
        },
      ),
    );
  });

  it('refuses short buffers, unknown encapsulations and impossible nanoseconds', () => {
    expect(readLeadingStampNs(new Uint8Array([0, 1, 0, 0, 1, 2, 3]))).toBeUndefined();
    expect(readLeadingStampNs(stamped(0x42, 1, 2, true))).toBeUndefined();
    expect(readLeadingStampNs(stamped(0x01, 1, 1_000_000_000, true))).toBeUndefined();
  });

  it('reads from a view into a larger buffer', () => {
    const backing = new Uint8Array(40);
    backing.set(stamped(0x01, 5, 6, true), 8);
    expect(readLeadingStampNs(backing.subarray(8, 24))).toBe(5_000_000_006n);
  });
});

describe('discovered stream names', () => {
  it('maps topics to config-valid, unique names', () => {
    expect(discoveredStreamName('/camera/front/image_raw', new Set())).toBe('camera.front.image_raw');
    expect(discoveredStreamName('/a b/c~d', new Set())).toBe('a_b.c_d');
    expect(discoveredStreamName('/tf', new Set(['tf']))).toBe('tf-2');
    expect(discoveredStreamName('/tf', new Set(['tf', 'tf-2']))).toBe('tf-3');
    const long = discoveredStreamName(`/${'x'.repeat(100)}`, new Set());
    expect(long).toMatch(/^x{55}-[0-9a-f]{8}$/);
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 200 }), (topic) => {
        expect(discoveredStreamName(topic, new Set())).toMatch(/^[A-Za-z0-9_.-]{1,64}$/);
      }),
    );
  });

  it('selects by include and exclude only when discovery is enabled', () => {
    expect(new TopicSelector({ enabled: false, include: [], exclude: [] }).selects('/x')).toBe(false);
    const selector = new TopicSelector({ enabled: true, include: ['^/cam'], exclude: ['compressed$'] });
    expect([
      selector.selects('/cam/raw'),
      selector.selects('/cam/compressed'),
      selector.selects('/lidar'),
    ]).toEqual([true, false, false]);
  });
});

describe('offeredQosProfilesYaml', () => {
  it('writes rosbag2 metadata-version-8 YAML (integers, sec/nsec durations)', () => {
    expect(
      offeredQosProfilesYaml([
        offeredProfile({ history: 1, depth: 1, durability: 1, deadline: { seconds: 0n, nanoseconds: 0 } }),
      ]),
    ).toBe(
      [
        '- history: 1',
        '  depth: 1',
        '  reliability: 1',
        '  durability: 1',
        '  deadline:',
        '    sec: 0',
        '    nsec: 0',
        '  lifespan:',
        '    sec: 9223372036',
        '    nsec: 854775807',
        '  liveliness: 1',
        '  liveliness_lease_duration:',
        '    sec: 9223372036',
        '    nsec: 854775807',
        '  avoid_ros_namespace_conventions: false',
      ].join('\n'),
    );
    expect(offeredQosProfilesYaml([])).toBe('');
  });
});
