// Capture's accounting with a scripted driver and an in-memory sink: every sample is written or
// dropped under a cause, and a transform that throws never lets a frame through untransformed.
import { describe, expect, it } from 'vitest';
import type { Driver, Sample } from '../../../drivers/types.ts';
import { parseConfig } from '../../../agent/config/load.ts';
import { silentLogger } from '../../../agent/log.ts';
import { Capture, type TransformResult } from '../../../agent/pipeline/capture.ts';
import { StreamLedger } from '../../../agent/pipeline/ledger.ts';

function scriptedDriver(samples: Sample[]): Driver {
  return {
    name: 'scripted',
    open: () => Promise.resolve(),
    async *samples() {
      for (const s of samples) yield s;
    },
    schemas: () => new Map(),
    onDrop: () => undefined,
    stats: () => ({ streams: {} }),
    close: () => Promise.resolve(),
    destroy: () => undefined,
  };
}

const config = parseConfig(
  `version: 1\nrig: { id: r }\nspool: { dir: /tmp/x }\nstreams:\n  - { name: cam, driver: zmq, endpoint: "tcp://127.0.0.1:1", topic: /cam, type: sensor_msgs/msg/CompressedImage }\n  - { name: imu, driver: zmq, endpoint: "tcp://127.0.0.1:1", topic: /imu, type: sensor_msgs/msg/Imu }\n`,
  { baseDir: '/' },
).config;

const sample = (stream: string, seq: number, captureNs = 1_000n): Sample => ({
  stream,
  topic: `/${stream}`,
  seq,
  captureNs,
  monoNs: BigInt(seq),
  encoding: 'cdr',
  schemaRef: 'x',
  data: new Uint8Array([seq]),
});

describe('Capture', () => {
  it('writes or drops every sample under a cause; a throwing transform drops the frame, never writes it raw', async () => {
    const written: Sample[] = [];
    const ledger = new StreamLedger();
    const input = [
      sample('cam', 0),
      sample('cam', 1),
      sample('cam', 2),
      sample('imu', 0),
      sample('imu', 1, -5n),
      sample('ghost', 0),
    ];
    const capture = new Capture({
      streams: config.streams,
      drivers: [scriptedDriver(input)],
      sink: { write: (s) => Promise.resolve(void written.push(s)) },
      ledger,
      log: silentLogger(),
      transformFor: (s) =>
        s.name === 'cam'
          ? (x): Promise<TransformResult> =>
              x.seq === 1
                ? Promise.reject(new Error('worker crashed'))
                : Promise.resolve({ kind: 'ok', sample: { ...x, data: new Uint8Array([99]) } })
          : undefined,
    });
    capture.start();
    await capture.intakeEnded();
    await capture.drain();
    expect(written.filter((s) => s.stream === 'cam').map((s) => [s.seq, s.data[0]])).toEqual([
      [0, 99],
      [2, 99],
    ]);
    const cam = ledger.totals().get('cam')!;
    expect(cam).toMatchObject({ received: 3, written: 2, drops: { deid_failed: 1 } });
    // A capture time before the epoch is a bad stamp: counted, never written.
    expect(ledger.totals().get('imu')).toMatchObject({ received: 2, written: 1, drops: { decode_error: 1 } });
    expect(ledger.unattributed).toEqual({ unknown_topic: 1 });
  });

  it('a held frame frees its place in the window at once: a frame still in the transform never fills the queue', async () => {
    // A 2-frame queue and a window of 2: the first frame stays in the transform until the camera is
    // done; every later one is held at once. Only the held frames' places let the consumer keep up.
    const small = parseConfig(
      `version: 1\nrig: { id: r }\nspool: { dir: /tmp/x }\nstreams:\n  - { name: cam, driver: zmq, endpoint: "tcp://127.0.0.1:1", topic: /cam, type: sensor_msgs/msg/CompressedImage, queue: { size: 2 } }\n`,
      { baseDir: '/' },
    ).config;
    const frames = Array.from({ length: 20 }, (_, i) => sample('cam', i));
    const camera: Driver = {
      ...scriptedDriver(frames),
      async *samples() {
        for (const s of frames) {
          yield s;
          // The next frame comes after the consumer has run (a camera's period).
          await new Promise((r) => setImmediate(r));
        }
      },
    };
    let release: (() => void) | undefined;
    const first = new Promise<void>((r) => (release = r));
    const written: Sample[] = [];
    const ledger = new StreamLedger();
    const capture = new Capture({
      streams: small.streams,
      drivers: [camera],
      sink: { write: (s) => Promise.resolve(void written.push(s)) },
      ledger,
      log: silentLogger(),
      transformWindow: 2,
      transformFor:
        () =>
        async (x): Promise<TransformResult> => {
          if (x.seq !== 0) return { kind: 'held' };
          await first;
          return { kind: 'ok', sample: x };
        },
    });
    capture.start();
    await capture.intakeEnded();
    release!();
    await capture.drain();
    const cam = ledger.totals().get('cam')!;
    expect({ received: cam.received, written: cam.written, drops: cam.drops }).toEqual({
      received: 20,
      written: 1,
      drops: {},
    });
    expect(written.map((s) => s.seq)).toEqual([0]);
  });
});
