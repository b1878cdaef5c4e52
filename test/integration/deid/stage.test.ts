import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Sample } from '../../../drivers/types.ts';
import type { DeidConfig } from '../../../agent/config/types.ts';
import { builtinModelSpecs, type ModelSpec } from '../../../agent/deid/models.ts';
import { defaultDeidConfig } from '../../../agent/deid/params.ts';
import { selfTestImageUrl } from '../../../agent/deid/selftest.ts';
import { DeidStage } from '../../../agent/deid/stage.ts';
import { silentLogger } from '../../../agent/log.ts';

const config: DeidConfig = {
  ...defaultDeidConfig,
  mode: 'inline',
  workers: 1,
  maxPending: 1,
  timeoutMs: 20_000,
};
let dir: string;
let jpeg: Uint8Array;

function imageSample(stream = 'front', seq = 1): Sample {
  return {
    stream,
    topic: `/${stream}/image`,
    seq,
    captureNs: 1n,
    monoNs: 1n,
    encoding: 'jpeg',
    schemaRef: 'sensor_msgs/msg/CompressedImage',
    data: jpeg,
  };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rigcap-deid-'));
  jpeg = new Uint8Array(await readFile(selfTestImageUrl));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A stage that never started successfully must drop every image frame, never pass it on raw. */
async function expectFailClosed(stage: DeidStage, code: string): Promise<void> {
  await expect(stage.start()).rejects.toMatchObject({ code });
  const outcome = await stage.process(imageSample());
  expect(outcome).toEqual({ kind: 'dropped', cause: 'deid_failed' });
  expect(stage.status().state).toBe('failed');
  expect(stage.status().streams['front']?.degraded).toBe(true);
  const lineage = stage.takeLineage();
  expect(lineage.frames.failed).toBe(1);
  expect(lineage.degraded).toBe(true);
  stage.destroy();
}

describe('DeidStage fails closed', () => {
  it('a model file that is not the pinned one (corrupt) stops start and drops frames', async () => {
    const [face, plate] = builtinModelSpecs() as [ModelSpec, ModelSpec];
    const corrupt = join(dir, 'face.onnx');
    await copyFile(face.path, corrupt);
    const bytes = await readFile(corrupt);
    const mid = bytes.length >> 1;
    bytes[mid] = (bytes[mid] ?? 0) ^ 0xff;
    await writeFile(corrupt, bytes);
    await expectFailClosed(
      new DeidStage({ config, log: silentLogger(), models: [{ ...face, path: corrupt }, plate] }),
      'RIGCAP_DEID_MODEL_DIGEST',
    );
  });

  it('a missing model file stops start and drops frames', async () => {
    const [face, plate] = builtinModelSpecs() as [ModelSpec, ModelSpec];
    await expectFailClosed(
      new DeidStage({
        config,
        log: silentLogger(),
        models: [face, { ...plate, path: join(dir, 'absent.onnx') }],
      }),
      'RIGCAP_DEID_MODEL_MISSING',
    );
  });

  it('inference that throws fails the self-test, and so start', async () => {
    const workerUrl = new URL('./workers/throwing-worker.ts', import.meta.url);
    await expectFailClosed(
      new DeidStage({ config, log: silentLogger(), workerUrl }),
      'RIGCAP_DEID_INFERENCE',
    );
  });

  it('an inference past the start-up bound fails the self-test, and so start', async () => {
    const workerUrl = new URL('./workers/hanging-worker.ts', import.meta.url);
    const stage = new DeidStage({
      config: { ...config, selfTestTimeoutMs: 300 },
      log: silentLogger(),
      workerUrl,
      retireGraceMs: 500,
    });
    await expect(stage.start()).rejects.toMatchObject({ code: 'RIGCAP_DEID_SELFTEST_FAILED' });
    expect(stage.status().lastError?.message).toMatch(/longer than 300 ms/);
    stage.destroy();
  });
});

describe('DeidStage with the real models', () => {
  it('blurs image frames, passes others and exempt streams, counts backpressure drops, and reports lineage', async () => {
    const stage = new DeidStage({ config, log: silentLogger(), exemptStreams: ['thermal'] });
    await stage.start();
    expect(stage.status().state).toBe('ready');
    expect(stage.status().selfTest?.faces).toBeGreaterThanOrEqual(1);

    const imu: Sample = {
      ...imageSample('imu'),
      encoding: 'cdr',
      schemaRef: 'sensor_msgs/msg/Imu',
      data: new Uint8Array([1, 2, 3]),
    };
    expect(await stage.process(imu)).toEqual({ kind: 'ok', sample: imu });
    const exempt = imageSample('thermal');
    expect(await stage.process(exempt)).toEqual({ kind: 'ok', sample: exempt });

    // One worker and a queue of one: of four frames offered at once, two must be refused.
    const outcomes = await Promise.all([1, 2, 3, 4].map((seq) => stage.process(imageSample('front', seq))));
    const ok = outcomes.filter((o) => o.kind === 'ok');
    const dropped = outcomes.filter((o) => o.kind === 'dropped');
    expect(ok).toHaveLength(2);
    expect(dropped).toEqual([
      { kind: 'dropped', cause: 'deid_backpressure' },
      { kind: 'dropped', cause: 'deid_backpressure' },
    ]);
    for (const o of ok) if (o.kind === 'ok') expect(o.sample.data).not.toEqual(jpeg);
    expect(stage.status().streams['front']?.backpressure).toBe(2);

    const lineage = stage.takeLineage();
    expect(lineage.frames).toEqual({
      in: 5,
      withDetections: 2,
      failed: 0,
      dropped: 2,
      exempt: 1,
      blurredLate: 0,
      heldLost: 0,
    });
    expect(lineage.boxes.face).toBeGreaterThanOrEqual(2);
    expect(lineage.boxes.plate).toBeGreaterThanOrEqual(2);
    expect(JSON.stringify(lineage)).not.toMatch(/RG 4821/);
    await stage.close();
    expect(await stage.process(imageSample())).toEqual({ kind: 'dropped', cause: 'deid_failed' });
  });
});
