import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  FrameCache,
  encodeFrame,
  maxHeaderBytes,
  parseFrame,
  type ZmqFrameHeader,
} from '../../../drivers/zmq/frame.ts';

const topicArb = fc.stringMatching(/^\/[A-Za-z0-9_/]{1,40}$/);
const headerArb: fc.Arbitrary<ZmqFrameHeader> = fc.record({
  seq: fc.nat(),
  captureNs: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
  encoding: fc.constantFrom('cdr', 'jpeg', 'json', 'bytes'),
  type: fc.constantFrom('sensor_msgs/msg/Imu', 'tf2_msgs/msg/TFMessage', 'rigcap.test/v1'),
  latched: fc.boolean(),
});

describe('parseFrame', () => {
  it('returns a sample or a typed error for any bytes, never throws', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 5 }), (frames) => {
        const result = parseFrame(frames);
        if (result.ok) expect(frames).toHaveLength(3);
        else expect(result.cause.length).toBeGreaterThan(0);
      }),
      { numRuns: 2000 },
    );
  });

  it('never throws on near-valid headers (random JSON values in every field)', () => {
    const fieldArb = fc.oneof(fc.jsonValue(), fc.string(), fc.integer(), fc.double());
    fc.assert(
      fc.property(
        topicArb,
        fc.record(
          { seq: fieldArb, captureNs: fieldArb, encoding: fieldArb, type: fieldArb, latched: fieldArb },
          { requiredKeys: [] },
        ),
        (topic, header) => {
          const result = parseFrame([
            Buffer.from(topic),
            Buffer.from(JSON.stringify(header)),
            new Uint8Array(1),
          ]);
          if (!result.ok) expect(result.topic).toBe(topic);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('round-trips every valid header and payload', () => {
    fc.assert(
      fc.property(topicArb, headerArb, fc.uint8Array({ maxLength: 128 }), (topic, header, payload) => {
        const result = parseFrame(encodeFrame(topic, header, payload));
        expect(result).toEqual({ ok: true, topic, header, payload });
      }),
    );
  });

  it('gives the same result with a FrameCache as without, for valid, near-valid and repeated headers', () => {
    const cache = new FrameCache();
    const tailArb = fc.constantFrom(
      '',
      ',"seq":9',
      ',"captureNs":"7"',
      ',"x":"\\u0041"',
      ' ',
      ',"latched":"no"',
      ',"encoding":"jpeg"',
    );
    const seqText = fc.oneof(
      fc.nat().map(String),
      fc.constantFrom('00', '-1', '1.5', '1e3', '9007199254740993', '1234567890123456'),
    );
    const nsText = fc.oneof(
      fc.bigInt({ min: 0n, max: 1n << 66n }).map(String),
      fc.constantFrom('', '007', 'x'),
    );
    fc.assert(
      fc.property(topicArb, headerArb, seqText, nsText, tailArb, (topic, header, seq, ns, extra) => {
        const canonical = encodeFrame(topic, header, new Uint8Array(2));
        const json = canonical[1].toString('utf8');
        const variant = json
          .replace(/^\{"seq":\d+/, `{"seq":${seq}`)
          .replace(/"captureNs":"\d+"/, `"captureNs":"${ns}"`)
          .replace(/\}$/, `${extra}}`);
        for (const headerBytes of [canonical[1], Buffer.from(variant), canonical[1], Buffer.from(variant)]) {
          const frames = [canonical[0], headerBytes, canonical[2]];
          expect(parseFrame(frames, cache)).toEqual(parseFrame(frames));
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('names the rule each malformed message breaks', () => {
    const good = encodeFrame(
      '/imu',
      { seq: 1, captureNs: 5n, encoding: 'cdr', type: 'sensor_msgs/msg/Imu', latched: false },
      new Uint8Array(4),
    );
    expect(parseFrame(good.slice(0, 2))).toMatchObject({ ok: false, code: 'frame_count' });
    expect(parseFrame([Buffer.from([0xff, 0xfe]), good[1], good[2]])).toMatchObject({
      ok: false,
      code: 'topic_invalid',
    });
    expect(parseFrame([good[0], Buffer.from('{nope'), good[2]])).toMatchObject({
      ok: false,
      code: 'header_not_json',
      topic: '/imu',
    });
    expect(parseFrame([good[0], Buffer.alloc(maxHeaderBytes + 1, 0x20), good[2]])).toMatchObject({
      ok: false,
      code: 'header_too_large',
    });
    const header = (fields: Record<string, unknown>): Buffer =>
      Buffer.from(JSON.stringify({ seq: 1, captureNs: '5', encoding: 'cdr', type: 'x', ...fields }));
    expect(parseFrame([good[0], header({ seq: -1 }), good[2]])).toMatchObject({
      code: 'header_field_invalid',
    });
    expect(parseFrame([good[0], header({ seq: 1.5 }), good[2]])).toMatchObject({
      code: 'header_field_invalid',
    });
    expect(parseFrame([good[0], header({ captureNs: 5 }), good[2]])).toMatchObject({
      code: 'header_field_invalid',
    });
    expect(parseFrame([good[0], header({ captureNs: '18446744073709551616' }), good[2]])).toMatchObject({
      code: 'header_field_invalid',
    });
    expect(parseFrame([good[0], header({ encoding: 'CDR!' }), good[2]])).toMatchObject({
      code: 'header_field_invalid',
    });
    expect(parseFrame([good[0], header({ latched: 'yes' }), good[2]])).toMatchObject({
      code: 'header_field_invalid',
    });
    expect(parseFrame([good[0], header({ extra: { future: true } }), good[2]])).toMatchObject({ ok: true });
  });
});
