// Other streams never wait for de-id: with the de-id pool saturated (cameras published far faster
// than it can blur, inline mode so nothing is held) and a CPU hog spinning on both cores, the IMU,
// tf, GNSS and lidar lose nothing, camera frames are dropped and counted, and every published
// sample is accounted in the signed chunk records as written or dropped under a cause.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { heavySkipReason } from '../../support/heavy.ts';
import { simTopics } from '../../../scripts/sim-rig/index.ts';
import { simAgentConfig } from '../../integration/agent/sim-config.ts';
import { killDaemon, startDaemon, writeDaemonConfig, type Daemon } from '../../support/daemon.ts';
import { chunkPredicate } from '../../support/spool-check.ts';
import { delay } from '../../support/wait.ts';

/** Streams that must lose nothing, however busy de-id and the CPU are. */
const protectedStreams = ['imu', 'tf', 'gnss', 'lidar'] as const;
const cameras = ['front_camera', 'rear_camera'] as const;

let dir: string | undefined;
let child: Daemon | undefined;
const helpers: ChildProcess[] = [];

async function stopProcess(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const gone = new Promise((r) => proc.once('exit', r));
  proc.kill('SIGKILL');
  await gone;
}

afterEach(async () => {
  await killDaemon(child);
  for (const proc of helpers.splice(0)) await stopProcess(proc);
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  dir = undefined;
  child = undefined;
});

/** The sim rig in its own process: its endpoint once bound, and what it published once stopped. */
function startRig(options: Record<string, unknown>): {
  endpoint: Promise<string>;
  stop: () => Promise<Record<string, number>>;
} {
  const proc = spawn(process.execPath, [join(import.meta.dirname, 'rig-child.ts'), JSON.stringify(options)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  helpers.push(proc);
  const lines: Array<Record<string, unknown>> = [];
  const waiters: Array<() => void> = [];
  let partial = '';
  proc.stdout?.on('data', (d: Buffer) => {
    partial += d.toString();
    const parts = partial.split('\n');
    partial = parts.pop() ?? '';
    for (const text of parts) if (text.trim() !== '') lines.push(JSON.parse(text) as Record<string, unknown>);
    for (const w of waiters.splice(0)) w();
  });
  const line = (key: string): Promise<Record<string, unknown>> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        const found = lines.find((l) => key in l);
        if (found !== undefined) resolve(found);
        else if (proc.exitCode !== null)
          reject(new Error(`sim rig exited (${proc.exitCode}) without ${key}`));
        else waiters.push(check);
      };
      proc.once('exit', () => waiters.splice(0).forEach((w) => w()));
      check();
    });
  return {
    endpoint: line('endpoint').then((l) => String(l['endpoint'])),
    stop: async () => {
      proc.kill('SIGTERM');
      return (await line('published'))['published'] as Record<string, number>;
    },
  };
}

/** A child process spinning on both cores (two threads), until it or its parent goes. */
function startCpuHog(): ChildProcess {
  const spin =
    'const p = process.ppid; for (let i = 0; ; i++) if (i % 1e7 === 0 && process.ppid !== p) process.exit(0);';
  const code = `new (require('node:worker_threads').Worker)(${JSON.stringify(spin)}, { eval: true }); ${spin}`;
  const hog = spawn(process.execPath, ['-e', code], { stdio: 'ignore' });
  helpers.push(hog);
  return hog;
}

describe.skipIf(heavySkipReason !== undefined)('rigcap run with de-id saturated and the CPU busy', () => {
  it(
    'loses nothing on imu, tf, gnss and lidar, and accounts every published sample',
    { timeout: 480_000 },
    async () => {
      dir = await mkdtemp(join(tmpdir(), 'rigcap-deid-saturated-'));
      // Cameras at 30 fps each: several times what two de-id workers blur on two cores.
      const rig = startRig({
        endpoint: 'tcp://127.0.0.1:0',
        waitForSubscribers: 1,
        ratesHz: { '/camera/front/image/compressed': 30, '/camera/rear/image/compressed': 30 },
      });
      const endpoint = await rig.endpoint;
      const config = simAgentConfig({
        spoolDir: join(dir, 'spool'),
        keysDir: join(dir, 'secrets'),
        endpoint,
        listen: '127.0.0.1:0',
        chunking: { maxBytes: '32MiB', maxDurationMs: 5000, mcapChunkBytes: '1MiB', zstdLevel: 3 },
        streamOverrides: Object.fromEntries(
          cameras.map((name) => [
            name,
            {
              deid: { exempt: false, onBackpressure: 'drop' as const },
              queue: { size: 16, maxBytes: 64 * 1024 * 1024, dropPolicy: 'drop-oldest' as const },
            },
          ]),
        ),
      });
      // Inline mode: a frame de-id cannot take is dropped, never held, so the pool stays saturated.
      // The self-test at start may be slow on a loaded machine: a generous frame deadline.
      config['deid'] = {
        enabled: true,
        workers: 2,
        maxPending: 4,
        mode: 'inline',
        timeoutMs: 60_000,
        selfTestTimeoutMs: 300_000,
      };
      const configFile = await writeDaemonConfig(join(dir, 'rigcap.yaml'), config);
      // A generous stop budget: the drain blurs the frames still queued, however slow the box is.
      child = startDaemon(configFile, { args: ['--stop-timeout-ms', '180000'] });
      await child.waitForLog((l) => l.msg === 'capture started', {
        what: 'capture started',
        timeoutMs: 120_000,
      });
      const hog = startCpuHog();

      // ~20 s of capture under load (the length of the ordeal, not a wait for a state); de-id must
      // be visibly saturated (camera frames dropped).
      await delay(20_000);
      const during = await child.status();
      const cameraDrops = during.streams
        .filter((s) => (cameras as readonly string[]).includes(s.name))
        .reduce((n, s) => n + Object.values(s.drops).reduce((a, b) => a + b, 0), 0);
      expect(cameraDrops, JSON.stringify(during.streams)).toBeGreaterThan(0);
      expect(during.deid.health, JSON.stringify(during.deid)).not.toBe('ok');

      // Stop the hog and the rig, let the agent receive what is in flight, then stop it (drains).
      await stopProcess(hog);
      const published = await rig.stop();
      const topicOf = new Map(simTopics.map((t) => [t.stream, t.topic]));
      await child.waitForStatus(
        (s) =>
          protectedStreams.every((name) => {
            const st = s.streams.find((x) => x.name === name);
            const lost = Object.values(st?.drops ?? {}).reduce((a, b) => a + b, 0);
            return (st?.received ?? 0) + lost >= (published[topicOf.get(name)!] ?? 0);
          }),
        { what: 'the agent to receive every published protected sample', timeoutMs: 60_000 },
      );
      // The bound covers the drain (--stop-timeout-ms 180000); it only detects a hang.
      const exit = await child.stop({ signal: 'SIGTERM', timeoutMs: 300_000 });
      expect(exit, child.tail()).toEqual({ code: 0, signal: null });

      // The signed chunk records are the account: count written, drops by cause, upstream loss.
      const sessionId = (await readdir(join(dir, 'spool', 'sessions')))[0]!;
      const names = (await readdir(join(dir, 'spool', 'sessions', sessionId)))
        .filter((n) => /^chunk-\d{6}\.mcap$/.test(n))
        .sort();
      const account = new Map<string, { written: number; drops: Record<string, number> }>();
      for (const name of names) {
        const predicate = (await chunkPredicate(join(dir, 'spool'), sessionId, name)) as {
          streams: Array<{
            topic: string;
            count: number;
            drops: Record<string, number>;
            upstreamLoss: number;
            latchedReplays?: number;
          }>;
        };
        for (const s of predicate.streams) {
          const a = account.get(s.topic) ?? { written: 0, drops: {} };
          a.written += s.count - (s.latchedReplays ?? 0);
          for (const [cause, n] of Object.entries(s.drops)) a.drops[cause] = (a.drops[cause] ?? 0) + n;
          if (s.upstreamLoss > 0) a.drops['upstream_loss'] = (a.drops['upstream_loss'] ?? 0) + s.upstreamLoss;
          account.set(s.topic, a);
        }
      }
      const summary = Object.fromEntries(
        [...protectedStreams, ...cameras].map((name) => [
          name,
          { published: published[topicOf.get(name)!] ?? 0, ...account.get(topicOf.get(name)!) },
        ]),
      );
      console.log(JSON.stringify({ chunks: names.length, deid: during.deid, summary }));
      for (const name of protectedStreams) {
        const s = summary[name]!;
        expect(s.drops ?? {}, `${name}: ${JSON.stringify(s)}`).toEqual({});
        expect(s.written, `${name}: ${JSON.stringify(s)}`).toBe(s.published);
        expect(s.published).toBeGreaterThan(0);
      }
      for (const name of cameras) {
        const s = summary[name]!;
        const dropped = Object.values(s.drops ?? {}).reduce((a, b) => a + b, 0);
        // Every camera frame is blurred and written, or dropped under a cause.
        expect((s.written ?? 0) + dropped, `${name}: ${JSON.stringify(s)}`).toBe(s.published);
      }
    },
  );
});
