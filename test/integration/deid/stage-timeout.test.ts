// Per-frame deadlines (deid.timeoutMs) in steady state, with the real models and workers: the
// start-up self-test has its own bound, so a per-frame deadline no frame can meet still starts;
// a frame past its deadline is never written unblurred, and the process survives it. Inline: it
// is dropped and counted deid_failed. Spill: it goes to the holding area instead.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DropCause, Sample } from '../../../drivers/types.ts';
import type { DeidConfig } from '../../../agent/config/types.ts';
import { defaultDeidConfig } from '../../../agent/deid/params.ts';
import { selfTestImageUrl } from '../../../agent/deid/selftest.ts';
import { DeidStage } from '../../../agent/deid/stage.ts';
import { silentLogger } from '../../../agent/log.ts';

// The schema's smallest per-frame deadline: no frame is redacted in 10 ms, least of all on a busy machine.
const config: DeidConfig = { ...defaultDeidConfig, workers: 1, maxPending: 1, timeoutMs: 10 };
let dir: string;
let jpeg: Uint8Array;

function imageSample(seq: number): Sample {
  return {
    stream: 'front',
    topic: '/front/image',
    seq,
    captureNs: BigInt(seq),
    monoNs: BigInt(seq),
    encoding: 'jpeg',
    schemaRef: 'sensor_msgs/msg/CompressedImage',
    data: jpeg,
  };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rigcap-deid-timeout-'));
  jpeg = new Uint8Array(await readFile(selfTestImageUrl));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('DeidStage with a per-frame deadline no frame meets', () => {
  it('inline: starts (the self-test has its own bound), drops the late frame as deid_failed and counts it', async () => {
    const stage = new DeidStage({ config: { ...config, mode: 'inline' }, log: silentLogger() });
    await stage.start();
    expect(stage.status().state).toBe('ready');
    expect(await stage.process(imageSample(1))).toEqual({ kind: 'dropped', cause: 'deid_failed' });
    expect(stage.status().streams['front']).toMatchObject({ failed: 1, degraded: true });
    expect(stage.takeLineage().frames).toMatchObject({ in: 1, failed: 1 });
    await stage.close();
  }, 240_000);

  it('spill: the late frame is held, not lost; a held frame late again is counted, never written raw', async () => {
    const stage = new DeidStage({ config: { ...config, mode: 'spill' }, log: silentLogger() });
    await stage.start();
    const delivered: Sample[] = [];
    const dropped: DropCause[] = [];
    await stage.beginHolding({
      spoolDir: dir,
      sessionId: 'timeout-session',
      budgetBytes: 64 * 1024 * 1024,
      deliver: (sample) => {
        delivered.push(sample);
        return Promise.resolve();
      },
      drop: (_stream, cause) => void dropped.push(cause),
    });
    expect(await stage.process(imageSample(1))).toEqual({ kind: 'held' });
    // The held frame is retried once, runs past the deadline again, and is then counted as failed.
    expect(await stage.finishHolding()).toEqual([]);
    for (const sample of delivered) expect(sample.data).not.toEqual(jpeg);
    expect(delivered.length + dropped.length).toBe(1);
    expect(dropped.every((cause) => cause === 'deid_failed')).toBe(true);
    await stage.close();
  }, 240_000);
});
