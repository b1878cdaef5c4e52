// `rigcap run` on a spool that fills up: a small tmpfs (root only) holds the spool, the sim rig's
// lidar fills it in seconds. The daemon must keep running and answering, count what it cannot
// write as `disk_full` / `disk_budget`, keep every committed chunk byte for byte, resume by itself
// once space returns, stop cleanly on SIGTERM, and leave a spool that verifies.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { readdir, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { sha256OfFile } from '../../../agent/catalog/reconcile.ts';
import type { AgentSnapshot } from '../../../agent/ops/snapshot.ts';
import { startSimRig, type SimRig, type SimSensor } from '../../../scripts/sim-rig/index.ts';
import { killDaemon, startDaemon, writeDaemonConfig, type Daemon } from '../../support/daemon.ts';
import { checkSpool } from '../../support/spool-check.ts';
import { waitFor } from '../../support/wait.ts';
import { simAgentConfig } from '../../integration/agent/sim-config.ts';

const sensors = {
  frontCamera: false,
  rearCamera: false,
  lidar: true,
  imu: true,
  gnss: false,
  tf: true,
} as const;
const MiB = 1024 * 1024;

/** Mounts a tmpfs of `sizeKiB` on `dir` (made if needed); false when this machine does not let us (not root, no CAP_SYS_ADMIN). */
function mountTmpfs(dir: string, sizeKiB: number): boolean {
  mkdirSync(dir, { recursive: true });
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeKiB}k`, 'tmpfs', dir], { stdio: 'ignore' });
  } catch {
    return false;
  }
  mounts.push(dir);
  return true;
}

/** Gives the tmpfs on `dir` a new size (space returns, or is taken away). */
function resizeTmpfs(dir: string, sizeKiB: number): void {
  execFileSync('mount', ['-o', `remount,size=${sizeKiB}k`, dir]);
}

/** sha256 of every committed chunk in the spool, by path relative to it. */
async function committedChunks(spool: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const session of await readdir(join(spool, 'sessions')).catch(() => [])) {
    for (const name of await readdir(join(spool, 'sessions', session))) {
      if (!/^chunk-\d{6}\.mcap$/.test(name)) continue;
      const rel = `sessions/${session}/${name}`;
      // A chunk seen here may not be gone later; hash what is there now.
      out.set(rel, await sha256OfFile(join(spool, rel)));
    }
  }
  return out;
}

function drops(s: AgentSnapshot, cause: string): number {
  return s.streams.reduce((n, x) => n + (x.drops[cause] ?? 0), 0) + (s.unattributedDrops[cause] ?? 0);
}
function writtenBytes(s: AgentSnapshot): number {
  return s.streams.reduce((n, x) => n + x.bytes, 0);
}

let root: string;
let canMount = false;
const mounts: string[] = [];
let child: Daemon | undefined;
let rig: SimRig | undefined;

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'rigcap-disk-full-'));
  canMount = mountTmpfs(join(root, 'probe'), 64);
  if (!canMount)
    console.warn(
      'disk-full tests skipped: mounting a tmpfs is not permitted here (needs root / CAP_SYS_ADMIN)',
    );
});
afterEach(async () => {
  await killDaemon(child);
  await rig?.stop();
  child = undefined;
  rig = undefined;
});
afterAll(() => {
  for (const dir of mounts.splice(0).reverse()) execFileSync('umount', [dir]);
  rmSync(root, { recursive: true, force: true });
});

/** Writes the agent config (ops endpoint on loopback) and returns its path. */
async function writeConfig(
  name: string,
  spool: string,
  endpoint: string,
  spoolOverrides: Record<string, unknown>,
  rigSensors: Partial<Record<SimSensor, boolean>> = sensors,
): Promise<string> {
  const config = simAgentConfig({
    spoolDir: spool,
    keysDir: join(root, `${name}-secrets`),
    endpoint,
    sensors: rigSensors,
    listen: '127.0.0.1:0',
  });
  config['spool'] = { ...(config['spool'] as Record<string, unknown>), ...spoolOverrides };
  return writeDaemonConfig(join(root, `${name}.yaml`), config);
}

/** The stopped spool is consistent, every chunk is signed, and the chunks in `kept` are unchanged. */
async function expectVerifies(spool: string, kept: ReadonlyMap<string, string>): Promise<void> {
  const check = await checkSpool(spool);
  const now = await committedChunks(spool);
  for (const [rel, sha] of kept) expect(now.get(rel), rel).toBe(sha);
  expect(check.chunkProblems).toEqual([]);
  expect(check.strayFiles).toEqual([]);
  expect(check.quarantinedMcap).toEqual([]);
  expect(check.verify.failures).toEqual([]);
  expect(check.verify.checked.chunks).toBe(check.chunks);
}

async function stopWithSigterm(c: Daemon): Promise<void> {
  // The bound is a hang detector, not a speed figure.
  expect(await c.stop({ signal: 'SIGTERM', timeoutMs: 60_000 }), c.tail()).toEqual({ code: 0, signal: null });
}

describe('rigcap run on a filesystem that fills up', () => {
  it(
    'ENOSPC: keeps running and every committed chunk, resumes when space returns, stops and verifies',
    { timeout: 300_000 },
    async (ctx) => {
      if (!canMount) ctx.skip();
      const disk = join(root, 'a');
      expect(mountTmpfs(disk, 16 * 1024)).toBe(true);
      const spool = join(disk, 'spool');
      // Space to give back later, on the same filesystem as the spool.
      const filler = join(disk, 'filler.bin');
      await writeFile(filler, Buffer.alloc(3 * MiB, 1));
      rig = await startSimRig({
        endpoint: 'tcp://127.0.0.1:0',
        sensors,
        lidar: { points: 16_000 },
        ratesHz: { '/lidar/points': 20, '/imu/data': 200, '/tf': 50, '/tf_static': 1 },
      });
      // The budget is far above the tmpfs, so only the real ENOSPC path can stop capture.
      const configFile = await writeConfig('enospc', spool, rig.endpoint, {
        budgetBytes: '1GiB',
        minFreeBytes: '64KiB',
      });
      child = startDaemon(configFile);
      await child.waitForLog((l) => l.msg === 'capture started', { what: 'capture started' });

      // 1. The disk fills: the daemon stays up and says so.
      const full = await child.waitForStatus(
        (s) =>
          drops(s, 'disk_full') > 0 &&
          s.recentErrors.some((e) => e.code === 'RIGCAP_DISK_FULL' && e.message.includes('ENOSPC')),
        { what: 'the spool to fill (disk_full drops, an ENOSPC error)' },
      );
      expect(['full', 'low']).toContain(full.disk.state);
      const atFull = await committedChunks(spool);
      expect(atFull.size).toBeGreaterThan(0);

      // Still full while more samples arrive: alive, answering, refusing them rather than writing.
      const stillFull = await child.waitForStatus(
        (s) =>
          drops(s, 'disk_full') + drops(s, 'disk_budget') >
          drops(full, 'disk_full') + drops(full, 'disk_budget'),
        { what: 'more samples refused (disk_full or disk_budget) after the disk filled' },
      );
      expect(child.proc.exitCode).toBeNull();
      expect(['full', 'low']).toContain(stillFull.disk.state);
      expect(drops(stillFull, 'disk_full') + drops(stillFull, 'disk_budget')).toBeGreaterThan(
        drops(full, 'disk_full'),
      );

      // 4. Space returns: capture resumes by itself, new chunks appear, nothing committed is gone.
      const before = writtenBytes(stillFull);
      const chunksBefore = new Set((await committedChunks(spool)).keys());
      await unlink(filler);
      await waitFor(
        async () => {
          const s = await child!.status();
          if (writtenBytes(s) <= before) return false;
          const now = await committedChunks(spool);
          return [...now.keys()].some((k) => !chunksBefore.has(k));
        },
        {
          what: 'capture to resume (more bytes written, a new committed chunk)',
          timeoutMs: 60_000,
          everyMs: 250,
          detail: () => child!.tail(),
        },
      );
      // 2. Every chunk present when the disk filled is still there, byte for byte.
      const afterResume = await committedChunks(spool);
      for (const [rel, sha] of atFull) expect(afterResume.get(rel), rel).toBe(sha);

      // 5. Stop the rig, give the filesystem room for the shutdown, SIGTERM: exit 0.
      await rig.stop();
      resizeTmpfs(disk, 64 * 1024);
      await stopWithSigterm(child);

      // 3. Nothing is left unsigned, without a restart: abandoned partials were salvaged and signed
      // before the session closed (the tail a full disk cut off is quarantined, never named *.mcap).
      await expectVerifies(spool, afterResume);

      // The next start finds nothing to repair and starts cleanly.
      child = startDaemon(configFile);
      await child.waitForLog((l) => l.msg === 'capture started', { what: 'capture started' });
      await stopWithSigterm(child);
      await expectVerifies(spool, afterResume);
    },
  );

  it(
    'SQLITE_FULL / ENOSPC in the catalog and the records: no crash, every committed chunk still gets its record',
    { timeout: 300_000 },
    async (ctx) => {
      if (!canMount) ctx.skip();
      // The spool root (catalog, calibration history, records) is tiny; chunks go to a roomy sessions/.
      const spool = join(root, 'b');
      expect(mountTmpfs(spool, 640)).toBe(true);
      expect(mountTmpfs(join(spool, 'sessions'), 48 * 1024)).toBe(true);
      rig = await startSimRig({
        endpoint: 'tcp://127.0.0.1:0',
        sensors,
        lidar: { points: 4000 },
        ratesHz: { '/lidar/points': 20, '/imu/data': 200, '/tf': 50, '/tf_static': 1 },
      });
      const configFile = await writeConfig('sqlite', spool, rig.endpoint, {
        budgetBytes: '1GiB',
        // No free-space floor: with one, the budget can see the root at 0 bytes free between a
        // write that filled it exactly and the next, and pause capture before any write fails.
        minFreeBytes: 0,
      });
      child = startDaemon(configFile);
      await child.waitForLog((l) => l.msg === 'capture started', { what: 'capture started' });

      // A commit whose catalog row or record cannot be written pauses capture like a full chunk file.
      const full = await child.waitForStatus(
        (s) =>
          drops(s, 'disk_full') > 0 &&
          s.recentErrors.some(
            (e) =>
              e.code === 'RIGCAP_DISK_FULL' &&
              /SQLITE_FULL|ENOSPC/.test(e.message) &&
              !e.message.includes('.mcap.partial'),
          ),
        { what: 'a catalog or record write to fail for lack of space' },
      );
      expect(['full', 'low']).toContain(full.disk.state);
      const atFull = await committedChunks(spool);
      // Still paused while more samples arrive: they are refused, and the daemon stays up.
      const stillFull = await child.waitForStatus(
        (s) =>
          drops(s, 'disk_full') + drops(s, 'disk_budget') >
          drops(full, 'disk_full') + drops(full, 'disk_budget'),
        { what: 'more samples refused (disk_full or disk_budget) while the spool root is full' },
      );
      expect(child.proc.exitCode).toBeNull();
      expect(['full', 'low']).toContain(stillFull.disk.state);

      // Space returns on the spool root: capture resumes and new chunks are sealed, no restart.
      const sealedBefore = child.logs.length;
      resizeTmpfs(spool, 8 * 1024);
      await child.waitForStatus((s) => s.disk.state === 'ok' && writtenBytes(s) > writtenBytes(stillFull), {
        what: 'capture to resume',
      });
      await child.waitForLog((l) => l.msg === 'chunk sealed', {
        what: 'a new chunk sealed',
        from: sealedBefore,
      });

      await rig.stop();
      await stopWithSigterm(child);
      // The chunk committed while its record could not be written was signed before the session closed.
      await expectVerifies(spool, atFull);

      child = startDaemon(configFile);
      await child.waitForLog((l) => l.msg === 'capture started', { what: 'capture started' });
      await stopWithSigterm(child);
      await expectVerifies(spool, atFull);
    },
  );

  it(
    'a small budget sheds priority >= 5 streams, then pauses (disk_budget), and stops cleanly',
    { timeout: 300_000 },
    async (ctx) => {
      if (!canMount) ctx.skip();
      const disk = join(root, 'c');
      expect(mountTmpfs(disk, 16 * 1024)).toBe(true);
      const spool = join(disk, 'spool');
      mkdirSync(spool);
      // Data already in the spool puts it past the shed line (85 %) at the first check, so the
      // shedding is seen before the budget runs out whatever the timing of the periodic checks.
      await writeFile(join(spool, 'ballast.bin'), Buffer.alloc(7 * MiB, 1));
      const withCamera = { ...sensors, frontCamera: true } as const;
      rig = await startSimRig({
        endpoint: 'tcp://127.0.0.1:0',
        sensors: withCamera,
        camera: { width: 640, height: 360, frames: 4 },
        lidar: { points: 8000 },
        ratesHz: { '/imu/data': 200, '/tf': 50, '/tf_static': 1 },
      });
      const configFile = await writeConfig(
        'budget',
        spool,
        rig.endpoint,
        { budgetBytes: '8MiB', minFreeBytes: '64KiB' },
        withCamera,
      );
      child = startDaemon(configFile);
      await child.waitForLog((l) => l.msg === 'capture started', { what: 'capture started' });
      const lidar = (s: AgentSnapshot) => s.streams.find((x) => x.name === 'lidar');
      const camera = (s: AgentSnapshot) => s.streams.find((x) => x.name === 'front_camera');

      // Shed: lidar (priority 5) refused while the camera (3) still writes.
      const shed = await child.waitForStatus(
        (s) => (lidar(s)?.drops['disk_budget'] ?? 0) > 0 && (camera(s)?.bytes ?? 0) > 0,
        { what: 'lidar to be shed while the camera writes' },
      );
      expect(lidar(shed)?.bytes ?? 0).toBe(0);
      // Then paused: everything refused under disk_budget; the daemon stays up.
      const paused = await child.waitForStatus(
        (s) => s.disk.state === 'full' && (camera(s)?.drops['disk_budget'] ?? 0) > 0,
        { what: 'capture to pause at the budget' },
      );
      expect(paused.recentErrors.some((e) => e.code === 'RIGCAP_DISK_FULL')).toBe(true);
      expect(drops(paused, 'disk_full')).toBe(0);
      const atPause = await committedChunks(spool);
      // Still paused while more samples arrive: refused under disk_budget, the daemon stays up.
      const later = await child.waitForStatus((s) => drops(s, 'disk_budget') > drops(paused, 'disk_budget'), {
        what: 'more samples refused at the budget after the pause',
      });
      expect(child.proc.exitCode).toBeNull();
      expect(later.disk.state).toBe('full');
      expect(drops(later, 'disk_budget')).toBeGreaterThan(drops(paused, 'disk_budget'));

      await rig.stop();
      await stopWithSigterm(child);
      await expectVerifies(spool, atPause);
    },
  );
});
