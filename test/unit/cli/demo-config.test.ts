// rigcap demo's agent config: a raised per-frame de-id deadline (emulation) also raises the start-up
// bound, which the config loader accepts.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { demoConfig } from '../../../agent/cli/demo.ts';
import { parseConfig } from '../../../agent/config/load.ts';

const dir = mkdtempSync(join(tmpdir(), 'rigcap-demo-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const loaded = (deidTimeoutMs?: number) =>
  parseConfig(
    JSON.stringify(
      demoConfig({
        dir,
        endpoint: 'tcp://127.0.0.1:5555',
        storeUrl: 'http://127.0.0.1:8080',
        enrollToken: 'token',
        seconds: 5,
        ...(deidTimeoutMs === undefined ? {} : { deidTimeoutMs }),
      }),
    ),
    { baseDir: dir },
  ).config.deid;

describe('rigcap demo config', () => {
  it('keeps the 60 s de-id start-up bound for the default deadline', () => {
    expect(loaded(5000)).toMatchObject({ timeoutMs: 5000, selfTestTimeoutMs: 60_000 });
    expect(loaded()).toMatchObject({ timeoutMs: 30_000, selfTestTimeoutMs: 60_000 });
  });

  it('gives de-id start-up at least one frame deadline when --deid-timeout-ms raises it', () => {
    expect(loaded(600_000)).toMatchObject({ timeoutMs: 600_000, selfTestTimeoutMs: 600_000 });
  });
});
