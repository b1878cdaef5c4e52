// deid.executionProvider with the real onnxruntime of this machine (a CPU-only build): cpu runs,
// a GPU provider that cannot load fails closed with a code (in one thread and in the worker pool the
// daemon starts), and only deid.fallbackToCpu lets the models run on the CPU, saying so.
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import type { DeidConfig } from '../../../agent/config/types.ts';
import { parseConfig } from '../../../agent/config/load.ts';
import { loadLocalRedactor } from '../../../agent/deid/local-redactor.ts';
import { builtinModelSpecs } from '../../../agent/deid/models.ts';
import { defaultDeidConfig } from '../../../agent/deid/params.ts';
import { createInferenceSession, describeProvider } from '../../../agent/deid/providers.ts';
import { DeidStage } from '../../../agent/deid/stage.ts';
import { silentLogger } from '../../../agent/log.ts';

const gpuMissing = 'this onnxruntime build has no usable CUDA/TensorRT here';

describe('deid.executionProvider', () => {
  it('cpu loads every model on the CPU and says so', async () => {
    const redactor = await loadLocalRedactor({ config: { ...defaultDeidConfig, executionProvider: 'cpu' } });
    expect(redactor.detector.provider).toEqual({ configured: 'cpu', provider: 'cpu' });
    expect(describeProvider(redactor.detector.provider)).toBe('cpu');
  });

  it.each(['cuda', 'tensorrt'] as const)(
    `%s that cannot load fails closed with RIGCAP_DEID_PROVIDER_UNAVAILABLE (${gpuMissing})`,
    async (provider) => {
      const spec = builtinModelSpecs()[0]!;
      const bytes = new Uint8Array(await readFile(spec.path));
      await expect(
        createInferenceSession(bytes, { provider: { executionProvider: provider, fallbackToCpu: false } }),
      ).rejects.toMatchObject({ code: 'RIGCAP_DEID_PROVIDER_UNAVAILABLE' });
      await expect(
        loadLocalRedactor({ config: { ...defaultDeidConfig, executionProvider: provider } }),
      ).rejects.toMatchObject({ code: 'RIGCAP_DEID_PROVIDER_UNAVAILABLE' });
    },
  );

  it('the daemon de-id stage does not start on a provider that cannot load, and drops frames', async () => {
    const config: DeidConfig = {
      ...defaultDeidConfig,
      executionProvider: 'cuda',
      workers: 1,
      mode: 'inline',
    };
    const stage = new DeidStage({ config, log: silentLogger() });
    await expect(stage.start()).rejects.toMatchObject({ code: 'RIGCAP_DEID_PROVIDER_UNAVAILABLE' });
    expect(stage.status().state).toBe('failed');
    stage.destroy();
  });

  it('fallbackToCpu: true runs on the CPU and reports the fallback and why', async () => {
    const redactor = await loadLocalRedactor({
      config: { ...defaultDeidConfig, executionProvider: 'cuda', fallbackToCpu: true },
    });
    expect(redactor.detector.provider.configured).toBe('cuda');
    expect(redactor.detector.provider.provider).toBe('cpu');
    expect(describeProvider(redactor.detector.provider)).toMatch(/^cpu \(fallback from cuda: .+\)$/);
  });

  it('the config accepts cpu, cuda and tensorrt (default cpu, no fallback) and rejects anything else', () => {
    const base = {
      version: 1,
      rig: { id: 'r1' },
      spool: { dir: '/tmp/rigcap-provider-spool' },
      keys: { dir: '/tmp/rigcap-provider-keys' },
      streams: [
        {
          name: 'imu',
          driver: 'zmq',
          endpoint: 'tcp://127.0.0.1:5555',
          topic: '/imu',
          type: 'sensor_msgs/msg/Imu',
        },
      ],
    };
    const { config } = parseConfig(JSON.stringify(base), { baseDir: '/tmp' });
    expect(config.deid.executionProvider).toBe('cpu');
    expect(config.deid.fallbackToCpu).toBe(false);
    for (const executionProvider of ['cuda', 'tensorrt'] as const)
      expect(
        parseConfig(JSON.stringify({ ...base, deid: { executionProvider } }), { baseDir: '/tmp' }).config.deid
          .executionProvider,
      ).toBe(executionProvider);
    expect(() =>
      parseConfig(JSON.stringify({ ...base, deid: { executionProvider: 'gpu' } }), { baseDir: '/tmp' }),
    ).toThrow(expect.objectContaining({ code: 'RIGCAP_CONFIG_INVALID' }));
  });
});
