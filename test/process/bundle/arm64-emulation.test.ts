// The arm64 (Jetson) bundle proven on this x86_64 machine under qemu user-mode emulation: its Node 22
// runs, `rigcap selftest` passes (models load and detect, keys sign and verify, SQLite opens, the
// sd_notify addon loads), and a short demo captures, blurs, signs, syncs and verifies its spool.
// The target's C library comes from Debian's aarch64 cross packages (QEMU_LD_PREFIX); under qemu-user
// before 8.1 the emulated commands see an aarch64 /proc/cpuinfo in their own mount namespace
// (emulation.ts says why onnxruntime needs it).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { heavySkipReason } from '../../support/heavy.ts';
import { buildTimeoutMs, cannotBuild, sharedBundle, unpack } from './bundles.ts';
import { cpuinfoMountMissing, emulatedEnv, emulation, emulatorMissing, type Emulation } from './emulation.ts';

const work = mkdtempSync(join(tmpdir(), 'rigcap-bundle-arm64-'));
afterAll(() => rmSync(work, { recursive: true, force: true }), 5 * 60_000);

const blocked = heavySkipReason ?? cannotBuild('arm64') ?? emulatorMissing() ?? cpuinfoMountMissing(work);
/** Emulated runs are 10-30x slower than native: the selftest takes about 40 s on 2 cores here. */
const selftestTimeoutMs = 10 * 60_000;
/** The emulated demo: de-id start-up alone takes minutes, then every held frame is blurred under qemu. */
const demoTimeoutMs = 3 * 60 * 60_000;

describe.skipIf(blocked !== undefined)('the arm64 bundle under qemu user-mode emulation', () => {
  let root: string;
  let emulated: Emulation;
  const hostCpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const rigcap = (timeout: number, ...args: string[]) =>
    emulated.run(join(root, 'bin/rigcap'), args, { cwd: work, timeout });

  beforeAll(async () => {
    root = unpack((await sharedBundle('arm64')).file, join(work, 'unpacked'));
    emulated = emulation(join(root, 'node/bin/node'), work);
  }, buildTimeoutMs);

  afterAll(() => {
    // The aarch64 /proc/cpuinfo lived only in the emulated commands' mount namespace.
    if (blocked === undefined) expect(readFileSync('/proc/cpuinfo', 'utf8')).toBe(hostCpuinfo);
  });

  it('runs its Node 22 as an aarch64 process', () => {
    const r = spawnSync(join(root, 'node/bin/node'), ['-p', 'process.arch + " " + process.version'], {
      encoding: 'utf8',
      env: emulatedEnv,
    });
    expect(r.stdout.trim(), r.stderr).toMatch(/^arm64 v22\./);
  });

  it(
    'passes rigcap selftest: models load and detect, keys sign and verify, SQLite opens, sd_notify loads',
    async () => {
      const r = await rigcap(selftestTimeoutMs, 'selftest', '--json');
      const report = JSON.parse(r.stdout) as {
        ok: boolean;
        checks: Array<{ name: string; ok: boolean; detail: string }>;
      };
      expect(report.ok, r.stdout + r.stderr).toBe(true);
      const detail = Object.fromEntries(report.checks.map((c) => [c.name, c.detail]));
      expect(detail['deid-models']).toMatch(
        /loaded on cpu; test image: [1-9]\d* face\(s\), [1-9]\d* plate\(s\)/,
      );
      expect(detail.keys).toContain('signs and verifies');
      expect(detail.sqlite).toContain('better-sqlite3 loads');
      expect(detail['sd-notify']).toContain('sd_notify addon loads');
    },
    selftestTimeoutMs,
  );

  // The emulated demo starts two de-id workers (each loads and warms three models under qemu) and
  // blurs every held frame there. On 2 shared cores its de-id start-up took 3-4 minutes, a 5 s capture
  // held 83 frames, and the first of them was blurred 9 minutes later: hours in all, far past CI's
  // budget. It runs when asked: RIGCAP_BUNDLE_DEMO=1, on idle cores.
  it.skipIf(process.env.RIGCAP_BUNDLE_DEMO !== '1')(
    'runs a 5 s demo whose spool and store verify (RIGCAP_BUNDLE_DEMO=1)',
    async () => {
      const out = join(work, 'demo');
      // Emulated de-id takes minutes a frame on busy cores: the default 5 s deadline would fail it closed,
      // and a deadline missed retires the worker (minutes more to start another under qemu).
      const r = await rigcap(
        demoTimeoutMs,
        'demo',
        '--seconds',
        '5',
        '--out',
        out,
        '--deid-timeout-ms',
        '1800000',
        '--json',
      );
      expect(r.status, r.stderr.slice(-4000)).toBe(0);
      const summary = JSON.parse(r.stdout) as {
        ok: boolean;
        verify: { agent: { ok: boolean }; store: { ok: boolean } };
      };
      expect(summary.ok).toBe(true);
      expect(summary.verify.agent.ok).toBe(true);
      expect(summary.verify.store.ok).toBe(true);
      const verify = await rigcap(selftestTimeoutMs, 'verify', join(out, 'agent'), '--json');
      expect(verify.status, verify.stdout + verify.stderr).toBe(0);
      expect((JSON.parse(verify.stdout) as { ok: boolean }).ok).toBe(true);
    },
    demoTimeoutMs,
  );
});

if (!(blocked === undefined))
  describe('the arm64 bundle under emulation (skipped)', () => {
    it.skip(blocked ?? '', () => {});
  });
